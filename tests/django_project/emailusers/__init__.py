"""A user model keyed by email, as HackSoftware's Django-Styleguide-Example has (``settings_email``)."""
