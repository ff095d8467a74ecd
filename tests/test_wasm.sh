# test_wasm.sh - C unit tests built to WebAssembly like the page's generator (make wasm-tests,
# part of make check when the toolchain is here), run under node's WASI: the kernel tests on
# both builds (the SIMD build checks its kernel set simd128 and the scalar set against the
# double-precision reference, the scalar build its scalar set) and the codec's tests.
# plain build only: the WebAssembly build has no sanitizer variant; the plain half runs it
. "$TESTS/lib.sh"
cd "$TMP" || exit 1
REPO=$(cd "$TESTS/.." && pwd)
W=$REPO/build/wasm/tests
if [ ! -f "$W/test_kern.wasm" ]; then
    skip wasm_unit "build/wasm/tests has no tests: make wasm-tests builds them (make wasm-deps installs its toolchain: clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32; make test does both)"
    exit 0
fi
if ! command -v node >/dev/null; then
    skip wasm_unit "no node to run WebAssembly with (make test-deps installs nodejs)"; exit 0
fi
cat > run.mjs <<'JS'
// run.mjs TEST.wasm: a WASI command (main) run by node; its exit status is the test's
import fs from 'node:fs';
import { WASI } from 'node:wasi';
const wasi = new WASI({ version: 'preview1', args: [process.argv[2]], env: {}, returnOnExit: true });
const { instance } = await WebAssembly.instantiate(fs.readFileSync(process.argv[2]),
  { wasi_snapshot_preview1: wasi.wasiImport });
process.exitCode = wasi.start(instance);
JS
for t in test_kern-simd test_kern test_codec; do
    # each line as the test prints it, named after the build ("# kernel set NAME" heads a set's)
    node --no-warnings run.mjs "$W/$t.wasm" > $t.out 2>&1
    rc=$?
    awk -v t="wasm_$t" '/^# kernel set / { set = "_" $4 }
        /^(ok|FAIL|SKIP) / { sub(/ /, " " t set ":") } { print }' $t.out
    [ $rc = 0 ] || fail "wasm_$t" "exit status $rc: $(tail -c 300 $t.out)"
done
