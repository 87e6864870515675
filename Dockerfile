# Dockerfile — owns the luastream image, in two stages:
#   build:   compiles luastream on Debian 12 and installs it (binary, script API, example
#            job, its radio-code table, man page) into /out, plus a generated data set of
#            20,000 police calls for the demo (deterministic: seed 1);
#   runtime: Debian 12 slim with only the shared libraries luastream needs (no compiler,
#            no headers, no Python) and what the build stage installed.
# The entrypoint (docker/entrypoint.sh) seeds the demo topic once, when it is empty, and
# runs luastream with the container's arguments (default: the example pipeline).
FROM debian:bookworm-slim AS build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        build-essential pkg-config librdkafka-dev liblua5.4-dev lua-cjson-dev \
        libyajl-dev libmicrohttpd-dev libxxhash-dev python3 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Drop any host build output or local broker state that came along with the copy.
RUN rm -rf build .run tests/.tmp bench/.venv \
    && make \
    && make install DESTDIR=/out PREFIX=/usr/local \
    && python3 scripts/gen_calls.py --count 20000 --seed 1 \
        --out /out/usr/local/share/luastream/data/calls.json \
    && install -D -m 755 docker/entrypoint.sh /out/usr/local/bin/luastream-entrypoint

FROM debian:bookworm-slim AS runtime
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        librdkafka1 liblua5.4-0 lua-cjson libyajl2 libmicrohttpd12 libxxhash0 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /
# Scripts run from here: scripts/pipeline.lua, data/radio_code.json, data/calls.json;
# docker-compose.yml mounts the project's scripts/ over scripts/ for your own jobs.
WORKDIR /usr/local/share/luastream
ENV KAFKA_BOOTSTRAP=kafka:29092 \
    LUASTREAM_TOPIC=police.calls \
    LUASTREAM_SEED_FILE=/usr/local/share/luastream/data/calls.json
EXPOSE 4040
ENTRYPOINT ["/usr/local/bin/luastream-entrypoint"]
CMD ["scripts/pipeline.lua", "--ui", "0.0.0.0:4040"]
