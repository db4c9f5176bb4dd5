#!/bin/sh
# Re-extract every message from idp/, adapters/ and templates/, merge it into the
# Simplified Chinese and English catalogs, and compile them. Run after changing any
# user-visible text; then translate the new (empty or fuzzy) zh_Hans_CN entries and run
# it again. English msgids are the English text, so the en catalog needs no msgstr.
set -eu
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
export PYTHONPATH="scripts${PYTHONPATH:+:$PYTHONPATH}"

$PYTHON -m babel.messages.frontend extract -F babel.cfg -k lazy_gettext \
    --project=idp --sort-by-file --add-location=file --no-wrap \
    -o translations/messages.pot .

for locale in zh_Hans_CN en; do
    if [ -f "translations/$locale/LC_MESSAGES/messages.po" ]; then
        $PYTHON -m babel.messages.frontend update -i translations/messages.pot \
            -d translations -l "$locale" --no-wrap --ignore-obsolete
    else
        $PYTHON -m babel.messages.frontend init -i translations/messages.pot \
            -d translations -l "$locale" --no-wrap
    fi
done

$PYTHON -m babel.messages.frontend compile -d translations --statistics
