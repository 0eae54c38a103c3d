#!/usr/bin/env bash
# The cross-platform test (tests/cross-platform/): a real `eventlite serve`, a Python device (the wheel), a Kotlin
# device (the generated bindings on the JVM) and a browser device (the npm package in Chromium, through the demo app)
# on one tenant: offline appends to the same streams, then sync, then identical logs equal to the server's.
# Builds what it needs (native/setup.sh: library, bindings, wheel, Kotlin jar; the npm package and the demo app when
# www/dist is missing); quick when done.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# shellcheck source=lib.sh
source scripts/lib.sh

step "cross-platform: the native library, its bindings, the wheel and the Kotlin jar (native/setup.sh)"
# shellcheck source=../native/setup.sh
source native/setup.sh
cd "$ROOT"
OUT="$ROOT/target/cross-platform"
mkdir -p "$OUT"

step "cross-platform: the Python device's venv (the wheel)"
rm -rf "$OUT/venv"
python3 -m venv "$OUT/venv"
"$OUT/venv/bin/pip" install -q --disable-pip-version-check "$NATIVE_WHEEL"
export EVENTLITE_PYTHON="$OUT/venv/bin/python"

step "cross-platform: the Kotlin device (kotlinc against the generated bindings)"
DEVICE_JAR="$OUT/device.jar"
stamp="$(cat tests/cross-platform/devices/Device.kt "$KOTLIN_JAR" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$DEVICE_JAR" ] || [ "$(cat "$OUT/device.sha256" 2>/dev/null)" != "$stamp" ]; then
  JAVA_OPTS="-Xmx2g" "$KOTLIN_HOME/bin/kotlinc" -nowarn -cp "$KOTLIN_CLASSPATH" tests/cross-platform/devices/Device.kt \
    -d "$DEVICE_JAR"
  echo "$stamp" > "$OUT/device.sha256"
fi
export EVENTLITE_KOTLIN="java -Djna.library.path=$NATIVE_LIB_DIR -cp $DEVICE_JAR:$KOTLIN_CLASSPATH DeviceKt"

step "cross-platform: the browser device (the npm package through the demo app)"
npm_ci js
npm_ci www
if [ ! -f www/dist/index.html ] || [ ! -d js/dist ]; then
  bash js/scripts/build.sh
  (cd www && node_modules/.bin/vite build --logLevel warn)
fi
export WWW_DIST="$ROOT/www/dist"

step "cross-platform: one log across Python, Kotlin and the browser"
node --test --test-timeout=300000 --test-reporter=spec tests/cross-platform/

echo
echo "cross-platform tests passed"
