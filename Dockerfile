# Dockerfile — owns the luastream demo image: builds luastream from this repo on Debian 12,
# then (entrypoint) generates a synthetic police-calls data set, produces it to Kafka and runs
# the example pipeline against the `kafka` service from docker-compose.yml.
FROM debian:bookworm-slim

ENV DEBIAN_FRONTEND=noninteractive
# lua-cjson-dev (headers + pkg-config file) is added beside lua-cjson so the build can link
# or include cjson the same way as on a developer machine set up by scripts/deps.sh.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        build-essential pkg-config librdkafka-dev liblua5.4-dev lua-cjson lua-cjson-dev \
        libyajl-dev libmicrohttpd-dev python3 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/luastream
COPY . .
# Drop any host build output or local broker state that came along with the copy.
RUN rm -rf build .run tests/.tmp bench/.venv \
    && make

ENTRYPOINT ["/bin/sh", "-c", "set -e; mkdir -p data; python3 scripts/gen_calls.py --count 20000 --out data/calls.json; build/luastream produce data/calls.json --topic police.calls --bootstrap kafka:29092; exec build/luastream scripts/pipeline.lua --set bootstrap=kafka:29092 --ui 0.0.0.0:4040"]
