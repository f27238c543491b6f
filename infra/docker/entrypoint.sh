#!/bin/sh
# Runs apps/$APP/dist/main.js with the container's arguments (e.g. -c conf/broker-a.conf).
set -eu
: "${APP:?set APP to nameserver, broker, proxy or dashboard}"
main="/app/apps/$APP/dist/main.js"
if [ ! -f "$main" ]; then
  echo "entrypoint: $main does not exist (APP=$APP is not an app of this image)" >&2
  exit 64
fi
# The app's Node.js options, as the launcher gives them (packages/launcher APP_NODE_ARGS).
case "$APP" in
  broker) exec node --max-semi-space-size=8 --heap-growing-percent=100 "$main" "$@" ;;
  *) exec node "$main" "$@" ;;
esac
