# prodkit.stack — developer entry points. Everything runs from one virtualenv
# (.venv) that `make venv` creates from requirements/dev.txt.
#
#   make demo          set up this machine, then converge a local sandbox host with site.yml
#   make test          set up this machine, then every test (what CI runs)
#   make demo-destroy  remove the sandbox host
#
# Needs: a Debian 12 or 13 machine and root. Both commands first run
# tools/setup-machine.sh, which installs what the machine lacks (docker.io,
# debootstrap, ...) and starts Docker; run again, it changes nothing.

SHELL        := /bin/bash
.SHELLFLAGS  := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON       ?= python3
VENV         := .venv
BIN          := $(CURDIR)/$(VENV)/bin
export PATH  := $(BIN):$(PATH)
# Molecule and Ansible output for logs, not terminals.
export NO_COLOR := 1
export ANSIBLE_FORCE_COLOR := 0
export PY_COLORS := 0

COLLECTION_LINK := .ansible/collections/ansible_collections/prodkit/stack
STRATEGY_LINK   := .ansible/plugins/strategy
SANITY_ROOT     := $(CURDIR)/.testbed/sanity
SCENARIOS       ?= $(sort $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml))))
IMAGECTL        := $(BIN)/python testbed/imagectl.py

.PHONY: help
help: ## Show the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

# --- environment -----------------------------------------------------------

$(VENV)/.installed: requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	touch $@

$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../../.. $@

# Mitogen's strategy plugins, where ansible.cfg and molecule look for them.
$(STRATEGY_LINK): $(VENV)/.installed
	mkdir -p $(dir $@)
	ln -sfn "$$($(BIN)/python -c 'import ansible_mitogen, os; print(os.path.dirname(ansible_mitogen.__file__))')/plugins/strategy" $@

.PHONY: venv
venv: $(VENV)/.installed $(COLLECTION_LINK) $(STRATEGY_LINK) ## Create the virtualenv and link the checkout as prodkit.stack

.PHONY: images
images: venv ## Build the test bed's images (cached by content hash) and archives
	$(IMAGECTL) build
	$(IMAGECTL) export testbed
	$(IMAGECTL) export stack
	$(IMAGECTL) export monitoring

# --- tests -----------------------------------------------------------------

.PHONY: setup-demo setup-test
setup-demo: ## Install what `make demo` needs on this machine and start Docker (changes nothing when ready)
	@bash tools/setup-machine.sh demo
setup-test: ## The same for every test
	@bash tools/setup-machine.sh test

.PHONY: test
test: ## Set up this machine, then run everything CI runs: lint, sanity, unit, rules, build, molecule, demo-check
	@bash tools/setup-machine.sh test
	@$(MAKE) --no-print-directory venv
	@bash tests/run-all.sh

.PHONY: lint
lint: venv ## ansible-lint (production profile), yamllint, and shellcheck/ruff over the host programs in roles/*/files
	yamllint --strict .
	ansible-lint --strict
	bash tools/lint-host-programs.sh

.PHONY: sanity
sanity: venv ## ansible-test sanity on a copy of the collection tree
	@# ansible-test fetches a pip bootstrap script from a host we cannot
	@# reach; give it the offline stand-in under the name it looks for.
	pip_version=$$($(BIN)/python -c 'import re,ansible_test._internal.python_requirements as r; print(re.search(r"pip=.([0-9.]+)", open(r.__file__).read()).group(1))'); \
	  mkdir -p ~/.ansible/test/cache; \
	  cp tests/sanity/get_pip_offline.py ~/.ansible/test/cache/get_pip_$${pip_version//./_}.py
	rm -rf $(SANITY_ROOT)
	mkdir -p $(SANITY_ROOT)/ansible_collections/prodkit/stack
	@# examples/app is the application the tests deploy (Django code with
	@# Django's idioms), not part of the collection: galaxy.yml leaves it out too.
	git ls-files -z --cached --others --exclude-standard -- . ':!examples' \
	  | tar --null --files-from=- --ignore-failed-read -cf - \
	  | tar -xf - -C $(SANITY_ROOT)/ansible_collections/prodkit/stack
	cd $(SANITY_ROOT)/ansible_collections/prodkit/stack \
	  && git init -q && git add -A \
	  && ansible-test sanity --requirements --python 3.11 --color no

.PHONY: unit
unit: venv ## pytest unit tests (modules, module_utils, test bed, role contract) and node-wallet's node tests
	pytest -q tests/unit
	cd examples/app/node-wallet && node --test test/sentry.test.js test/redis.test.js

.PHONY: rules
rules: venv ## Monitoring: the stand-in images behave like the public ones; promtool check/test rules (tests/promtool)
	bash testbed/images/smoke-monitoring.sh
	@bash tests/promtool/run.sh

.PHONY: build
build: venv ## Build the collection tarball, install it, resolve roles/modules by FQCN
	pytest -q tests/integration

.PHONY: molecule
molecule: images ## Every molecule scenario, MOLECULE_JOBS (3) at a time (SCENARIOS="a b" for some)
	@bash tests/molecule-lanes.sh $(SCENARIOS)

# --- demo ------------------------------------------------------------------

# SANDBOX_ARGS: extra -e options for the sandbox (container name, ports).
SANDBOX_ARGS ?=

# What make demo says while it works: the step and the time since it began.
DEMO_STEP = @printf '\n== make demo [%s, %ss] %s\n' "$(1)" "$$(( $$(date +%s) - $(DEMO_START) ))" "$(2)"
DEMO_START := $(shell date +%s)
SANDBOX_NAME = $(or $(patsubst prodkit_sandbox_container=%,%,$(filter prodkit_sandbox_container=%,$(SANDBOX_ARGS))),prodkit-sandbox)

.PHONY: demo
demo: ## Set up this machine, build the images, start the sandbox host, converge it with site.yml, print where it answers
	$(call DEMO_STEP,1/4,set up this machine (tools/setup-machine.sh demo))
	@bash tools/setup-machine.sh demo
	$(call DEMO_STEP,2/4,the test bed's images (built once and then cached by content hash))
	@$(MAKE) --no-print-directory images
	$(call DEMO_STEP,3/4,the sandbox host and site.yml: each role's tasks as they run)
	ansible-playbook testbed/sandbox.yml -e prodkit_sandbox_state=started $(SANDBOX_ARGS)
	ansible-playbook site.yml $(SANDBOX_ARGS)
	$(call DEMO_STEP,4/4,where everything answers)
	@mkdir -p .testbed/logs && ansible-playbook testbed/sandbox.yml -e prodkit_sandbox_state=summary $(SANDBOX_ARGS) >.testbed/logs/sandbox-summary.log 2>&1 \
	  || { cat .testbed/logs/sandbox-summary.log; exit 1; }
	@echo
	@cat .testbed/summary-$(SANDBOX_NAME).txt

.PHONY: demo-destroy
demo-destroy: venv ## Remove the sandbox host and its Docker volume
	ansible-playbook testbed/sandbox.yml -e prodkit_sandbox_state=absent $(SANDBOX_ARGS)

# The test stage for the demo (tests/demo-check.sh): make demo on a sandbox of
# its own (other name, other ports), so that it never touches a developer's
# running demo, then what it promises, checked from this machine.
.PHONY: demo-check
demo-check: images ## `make demo` on a throw-away sandbox, then its site, redirect and monitoring checked from outside
	@bash tests/demo-check.sh

.PHONY: clean
clean: ## Remove generated files (not the images: see testbed/imagectl.py prune)
	rm -rf .testbed/sanity .testbed/logs tests/output .pytest_cache prodkit-stack-*.tar.gz
