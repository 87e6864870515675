# luastream - build, test and install.
#
#   make                 build/luastream (and build/lua/luastream/core.so for Lua tests)
#   make test            every test: C unit tests (plain, then ASan+UBSan), Lua tests,
#                        integration tests against a real Kafka broker, the differential
#                        suite against Apache Spark
#   make test-spark      only the differential suite against Apache Spark (tests/spark/)
#   make install PREFIX=/usr/local   (binary, script API, example job, man page)

PREFIX   ?= /usr/local
MANDIR   ?= $(PREFIX)/share/man
VERSION  := 0.1.0
CC       ?= cc
PKGS     := lua5.4 rdkafka yajl libmicrohttpd libxxhash
OPT      ?= -O2
CFLAGS   ?=
CFLAGS   += -std=c11 $(OPT) -g -Wall -Wextra -Werror -fPIC -pthread -D_GNU_SOURCE \
            -DLS_VERSION='"$(VERSION)"' -DLS_LUA_DIR='"$(PREFIX)/share/luastream/lua"' \
            $(shell pkg-config --cflags $(PKGS))
LDLIBS   += $(shell pkg-config --libs $(PKGS)) -lm -lpthread
BUILD    ?= build

# src/ is in folders by layer (src/README.md: the record's path through them);
# every folder is on the include path, objects are named by file.
SRC_DIRS := src/core src/ops src/io src/json src/lua src/recovery src/ui src/util
CFLAGS   += $(addprefix -I,$(SRC_DIRS))
HEADERS  := $(wildcard $(addsuffix /*.h,$(SRC_DIRS)) $(addsuffix /*.inc,$(SRC_DIRS)))
LIB_SRC  := $(wildcard $(addsuffix /*.c,$(SRC_DIRS)))
LIB_OBJ  := $(patsubst %.c,$(BUILD)/obj/%.o,$(notdir $(LIB_SRC)))
TEST_SRC := $(wildcard tests/unit/*.c)
vpath %.c $(SRC_DIRS)

.PHONY: all clean install test test-unit test-asan test-lua test-examples test-integration test-spark deps kafka-start kafka-stop demo bench soak fuzz

all: $(BUILD)/luastream $(BUILD)/lua/luastream/core.so

$(BUILD)/obj/%.o: %.c $(HEADERS) | $(BUILD)/obj
	$(CC) $(CFLAGS) -c $< -o $@

# The JSON scanner's three forms (scalar, SSE2, AVX2) ran up to 20% apart on
# the same work depending only on where their branches fell (Intel's jump
# erratum: a branch across a 32-byte boundary leaves the decoded-uop cache);
# aligned, they measure alike (bench/README.md, decoder micro-benchmark).
ifeq ($(shell uname -m),x86_64)
$(BUILD)/obj/ls_json_scan.o: CFLAGS += -Wa,-mbranches-within-32B-boundaries
endif

# --help is the manual page's SYNOPSIS, OPTIONS and EXIT STATUS sections, as
# text (scripts/man2help.awk), made a C string: one source for both.
$(BUILD)/help.inc: docs/luastream.1 scripts/man2help.awk | $(BUILD)/obj
	awk -f scripts/man2help.awk docs/luastream.1 | \
	    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' > $@.tmp
	mv $@.tmp $@

$(BUILD)/obj/main.o: src/main.c $(BUILD)/help.inc $(HEADERS) | $(BUILD)/obj
	$(CC) $(CFLAGS) -I$(BUILD) -c $< -o $@

$(BUILD)/obj:
	mkdir -p $@

$(BUILD)/libluastream.a: $(LIB_OBJ)
	ar rcs $@ $^

$(BUILD)/luastream: $(BUILD)/obj/main.o $(BUILD)/libluastream.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# luastream.core as a Lua C module, so plain Lua (busted) can load lua/luastream.lua.
$(BUILD)/lua/luastream/core.so: $(BUILD)/libluastream.a
	mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -shared -o $@ -Wl,--whole-archive $< -Wl,--no-whole-archive \
	    $(shell pkg-config --libs rdkafka yajl libmicrohttpd libxxhash) -lm

$(BUILD)/unit_tests: $(TEST_SRC) $(BUILD)/libluastream.a
	$(CC) $(CFLAGS) -o $@ $(TEST_SRC) $(BUILD)/libluastream.a \
	    $(LDLIBS) $(shell pkg-config --libs check)

test-unit: $(BUILD)/unit_tests
	CK_FORK=yes $(BUILD)/unit_tests

# The same unit tests under AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan:
	$(MAKE) BUILD=build/asan OPT="-O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    LDFLAGS="-fsanitize=address,undefined" build/asan/unit_tests
	ASAN_OPTIONS=detect_leaks=1 CK_FORK=no build/asan/unit_tests

test-lua: all
	tests/lua/run.sh

# Every example script in scripts/ run by `luastream test` over its fixture (no broker).
test-examples: all
	tests/examples/run.sh

test-integration: all
	tests/integration/run.sh

# The same queries in luastream and in Spark Structured Streaming, results compared; installs
# PySpark and the Kafka connector itself (scripts/spark-deps.sh).
test-spark:
	tests/spark/run.sh

test:
	tests/run-all.sh

deps:
	scripts/deps.sh

kafka-start:
	scripts/kafka.sh start

kafka-stop:
	scripts/kafka.sh stop

demo:
	scripts/demo.sh

bench:
	bench/run.sh

# Long runs, not part of `make test`: results are quoted in the README.
soak: all
	python3 tests/soak/soak.py

fuzz:
	tests/fuzz/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/luastream/lua \
	    $(DESTDIR)$(PREFIX)/share/luastream/scripts $(DESTDIR)$(PREFIX)/share/luastream/data \
	    $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(BUILD)/luastream $(DESTDIR)$(PREFIX)/bin/luastream
	install -m 644 docs/luastream.1 $(DESTDIR)$(MANDIR)/man1/luastream.1
	install -m 644 lua/luastream.lua $(DESTDIR)$(PREFIX)/share/luastream/lua/
	install -m 644 scripts/*.lua $(DESTDIR)$(PREFIX)/share/luastream/scripts/
	install -m 644 data/radio_code.json $(DESTDIR)$(PREFIX)/share/luastream/data/

clean:
	rm -rf build
