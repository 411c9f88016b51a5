"""A small, real Django project for the tests of :mod:`rollout_middleware.contrib.django`.

``settings`` uses Django's own ``auth.User`` (integer primary key); ``settings_uuid`` swaps in
``accounts.User``, whose primary key is a UUID. The SQLite database file is named by the
``ROLLOUT_DJANGO_TEST_DB`` environment variable, so the test process and the real servers it
starts share one database.
"""
