#!/usr/bin/env bash
# Run the Django tests against the oldest and the newest supported Django, each in its own venv.
#
#   bash tests/django_project/run_django_versions.sh            # Django 4.2.* and the newest
#   bash tests/django_project/run_django_versions.sh "5.1.*"    # any other series
#
# Venvs go to $ROLLOUT_VENVS/django-<series> (default ~/.cache/rollout-middleware; reused on later
# runs), outside the work tree. Supported: Django 4.2 LTS and newer;
# Django 6.x needs Python 3.12 or newer, so with an older Python the newest is the last 5.2.
set -euo pipefail
cd "$(dirname "$0")/../.."
python="${PYTHON:-python3}"
series=("$@")
[ ${#series[@]} -gt 0 ] || series=("4.2.*" "newest")
status=0
# pip's output without its "Location ... is ignored" notes; pip's own exit status, not grep's.
pip_install() {
    local log
    log="$(mktemp)"
    "$venv/bin/python" -m pip install -q "$@" >"$log" 2>&1 || {
        grep -v "^WARNING: Location" "$log"
        rm -f "$log"
        return 1
    }
    grep -v "^WARNING: Location" "$log" || true
    rm -f "$log"
}
for version in "${series[@]}"; do
    venvs="${ROLLOUT_VENVS:-${XDG_CACHE_HOME:-$HOME/.cache}/rollout-middleware}"
    venv="$venvs/django-${version//\*/x}"
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    # Django in the same resolve as the test extra, so that pip picks the djangorestframework (and
    # the rest) that supports it: installed afterwards, pip keeps a DRF that needs a newer Django.
    if [ "$version" = newest ]; then
        pip_install --upgrade -e ".[test]" "Django"
    else
        pip_install -e ".[test]" "Django==$version"
    fi
    # A venv that breaks a requirement would test a combination nobody can install.
    "$venv/bin/python" -m pip check
    echo "== Django $("$venv/bin/python" -m django --version) =="
    "$venv/bin/python" -m pytest tests/contrib/test_django.py tests/contrib/test_django_settings.py \
        tests/contrib/test_django_servers.py tests/contrib/test_django_example.py \
        tests/contrib/test_django_middleware.py tests/contrib/test_django_checks.py \
        tests/contrib/test_drf.py tests/contrib/test_django_docs.py \
        tests/test_equivalence.py \
        -q -p no:cacheprovider || status=1
done
exit $status
