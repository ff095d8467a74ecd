# test_python.sh - the Python module (python/charpipe.py, ctypes over libcharpipe.so.1) with the
# system python3: its texts are sample's and its scores evaluate's (python/test_charpipe.py).
# plain build only: the sanitizer build's shared library needs the ASan runtime loaded first, which python3 is not
. "$TESTS/lib.sh"
cd "$TMP" || exit 1
REPO=$(cd "$TESTS/.." && pwd)
case $BIN in
    "$REPO/bin") O=$REPO/build ;;
    */bin) O=$(dirname "$BIN") ;;
    *) O=$REPO/build ;;
esac
if [ ! -x /usr/bin/python3 ] && ! command -v python3 > /dev/null; then
    skip python_module "no python3 (make test-deps installs it)"; exit 0
fi
py=$(command -v /usr/bin/python3 || command -v python3)
if [ ! -f "$O/libcharpipe.so.1" ]; then
    fail python_module "$O/libcharpipe.so.1 is not built (make)"; exit 0
fi
PYTHONDONTWRITEBYTECODE=1 CHARPIPE_LIB="$O/libcharpipe.so.1" "$py" "$REPO/python/test_charpipe.py" "$BIN"
