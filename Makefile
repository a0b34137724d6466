# pgreshard — build, test and demo.
#
#   make          build build/pgreshard (and ./pgreshard, a link to it)
#   make test     install missing Debian packages, build, run every test
#                 (unit + integration, plain and under ASan/UBSan)
#   make demo     install missing packages, start throwaway clusters, run the demo
#   make bench    run the benchmarks in bench/
#   make fault    the long fault matrix (kills and crashes at random; figures in README)
#
# SAN=1 builds into build/asan with AddressSanitizer and UndefinedBehaviorSanitizer.

CC      ?= cc
PKGS    := libpq yaml-0.1 lua5.4 jansson libcrypto
SAN     ?= 0

ifeq ($(SAN),1)
BUILD   := build/asan
OPT     := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else
BUILD   := build
OPT     := -O2
endif

# Code lives in folders by concern (README "How the code is laid out"); every
# folder that holds headers is on the include path, so a file names a header
# by its file name alone.  scripts/check-layout.sh keeps the folders acyclic.
CODE_DIRS := common common/pg lua $(sort $(patsubst %/,%,$(dir $(wildcard planner/*/*.c runner/*/*.c))))
HDR_DIRS  := $(sort $(patsubst %/,%,$(dir $(wildcard common/*.h common/*/*.h lua/*.h planner/*/*.h runner/*/*.h))))
HEADERS   := $(wildcard $(addsuffix /*.h,$(HDR_DIRS)))

CPPFLAGS = -D_GNU_SOURCE $(addprefix -I,$(HDR_DIRS)) $(shell pkg-config --cflags $(PKGS))
CFLAGS  += -std=c11 -g -Wall -Wextra -Werror $(OPT)
LDFLAGS += $(OPT)
LDLIBS   = $(shell pkg-config --libs $(PKGS)) -lpg_query -lprotobuf-c -lpthread -lm

SQL_FILES := $(wildcard runner/*/sql/*.sql)
SQL_OBJS  := $(SQL_FILES:%.sql=$(BUILD)/obj/%_sql.o)
SRCS     := $(wildcard $(addsuffix /*.c,$(CODE_DIRS)))
MAIN_SRC := runner/commands/main.c
LIB_SRCS := $(filter-out $(MAIN_SRC),$(SRCS))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o) $(SQL_OBJS)
MAIN_OBJ := $(MAIN_SRC:%.c=$(BUILD)/obj/%.o)

UNIT_SRCS  := $(wildcard tests/unit/*/test_*.c)
UNIT_BINS  := $(addprefix $(BUILD)/tests/,$(notdir $(UNIT_SRCS:.c=)))
ITEST_SRCS := $(wildcard tests/integration/*.c)
ITEST_BINS := $(ITEST_SRCS:tests/integration/%.c=$(BUILD)/tests/%)

.PHONY: all test unit deps demo bench fault clean check-clusters
all: $(BUILD)/pgreshard $(UNIT_BINS) $(ITEST_BINS)
ifeq ($(SAN),0)
	@ln -sf build/pgreshard pgreshard
endif

$(BUILD)/pgreshard: $(LIB_OBJS) $(MAIN_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# SQL files are built into the binary as C strings: runner/*/sql/NAME.sql -> sql_NAME
$(BUILD)/gen/%_sql.c: %.sql
	@mkdir -p $(dir $@)
	@{ echo '/* generated from $< */'; echo 'const char sql_$(notdir $*)[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $<; echo ';'; } > $@

$(BUILD)/obj/%_sql.o: $(BUILD)/gen/%_sql.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# unit tests in folders by what they test (tests/unit/{common,planner,runner}), one binary each
define UNIT_RULE
$$(BUILD)/tests/$(notdir $(1:.c=)): $(1) $$(LIB_OBJS)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CPPFLAGS) $$(CFLAGS) -I$(dir $(1)) -DPGR_SOURCE_DIR='"$$(CURDIR)"' -o $$@ $$< $$(LIB_OBJS) $$(LDFLAGS) $$(LDLIBS) -lcmocka
endef
$(foreach s,$(UNIT_SRCS),$(eval $(call UNIT_RULE,$(s))))

$(BUILD)/tests/%: tests/integration/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -DPGR_SOURCE_DIR='"$(CURDIR)"' -o $@ $< $(LIB_OBJS) $(LDFLAGS) $(LDLIBS) -lcmocka

deps:
	@bash scripts/deps.sh

# Every test: unit tests and integration tests, plain build and ASan/UBSan build.
test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory SAN=1 all
	@bash tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@bash demo/run.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@bash bench/run.sh

# The long fault matrix (tests/integration/test_fault.sh): FAULT_RUNS whole moves with
# FAULT_FAULTS faults each; FAULT_SEED=N replays one.
fault: deps
	@$(MAKE) --no-print-directory all
	@PGRESHARD=$(CURDIR)/build/pgreshard FAULT_RUNS=$${FAULT_RUNS:-5} FAULT_FAULTS=$${FAULT_FAULTS:-25} \
		bash tests/integration/test_fault.sh

clean:
	rm -rf build pgreshard
