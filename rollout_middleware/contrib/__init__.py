"""Framework integrations: Django (``contrib.django``) and Flask (``contrib.flask``)."""
