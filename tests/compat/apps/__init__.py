"""Small apps for the compatibility tests, importable by servers as ``tests.compat.apps.NAME:app``.

Each module has a ``create_app(**credentials)`` factory, and a module-level ``app`` built with the
test credentials of :mod:`tests.support`.
"""

#: The body of the 418 page that each framework app's own error handler renders.
TEAPOT = "short and stout"
