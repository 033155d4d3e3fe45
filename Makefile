# Every target creates what it needs: a fresh clone runs `make test` or `make dev` directly.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON313 := $(shell scripts/python313)
PYTHON313_DIR := $(dir $(PYTHON313))
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
# sam build looks for python3.13 on PATH; the pyenv shim there may not run it.
SAM_ENV := PATH="$(PYTHON313_DIR):$$PATH" SAM_CLI_TELEMETRY=0 AWS_REGION=us-east-1
# Deploying and deleting use your AWS configuration's region, never a fixed one.
SAM_AWS_ENV := PATH="$(PYTHON313_DIR):$$PATH" SAM_CLI_TELEMETRY=0
# The stack `make e2e STACK=...` tests and `make delete` removes.
STACK ?=
# The architecture make build builds wheels for and make deploy deploys: ARCH=x86_64 or ARCH=arm64, else the one the
# last guided deploy saved in samconfig.toml, else the template's default (tooling/architecture.py).
ARCH ?= $(shell $(PY) -m tooling.architecture chosen)
# The smoke run builds for the machine it runs on (the RIE and the wheels must execute here).
HOST_ARCH := $(if $(filter aarch64 arm64,$(shell uname -m)),arm64,x86_64)
RIE := $(SAM_VENV)/lib/python3.13/site-packages/samcli/local/rapid/aws-lambda-rie-$(HOST_ARCH)
RUNTIME_VENV := .venv-lambda-runtime
CHECKOV_VENV := .venv-checkov
SMOKE_BUILD := .aws-sam/build-$(HOST_ARCH)
# The same build before tooling/prune.py, kept so make bench measures what pruning buys.
UNPRUNED_BUILD := .aws-sam/unpruned-$(HOST_ARCH)
# make bench compares cold starts with this commit's build (the code before the cold-start work), in the same run.
BENCH_REFERENCE ?= 07447c3
REFERENCE_DIR := .aws-sam/reference-$(BENCH_REFERENCE)

# $(call make_venv,DIR,REQUIREMENTS): a Python 3.13 virtualenv with exactly those requirements.
define make_venv
	test -x $(1)/bin/python || $(PYTHON313) -m venv $(1)
	$(1)/bin/python -m pip install --quiet --upgrade pip
	$(1)/bin/python -m pip install --quiet -r $(2)
	touch $(1)/.installed
endef

.PHONY: dev token help venv lint format unit validate scan rehearse build build-local reference-build audit-manifest smoke sam-local-invoke bench bench-quick fuzz test screenshots docs deploy delete e2e clean

dev: $(VENV)/.installed ## Run the whole product locally: API on http://127.0.0.1:$${PORT:-3000}, no AWS, no Docker
	PYTHONPATH=functions $(PY) -m local.dev

token: $(VENV)/.installed ## A real access token (the API takes no ID token) from make dev's pool (make token USER=alice), last line
	@PYTHONPATH=functions $(PY) -m local.dev token $(USER)

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements/dev.txt functions/requirements.txt
	$(call make_venv,$(VENV),requirements/dev.txt)

$(SAM_VENV)/.installed: requirements/sam.txt
	$(call make_venv,$(SAM_VENV),requirements/sam.txt)

$(RUNTIME_VENV)/.installed: requirements/lambda-runtime.txt
	$(call make_venv,$(RUNTIME_VENV),requirements/lambda-runtime.txt)

$(CHECKOV_VENV)/.installed: requirements/checkov.txt
	$(call make_venv,$(CHECKOV_VENV),requirements/checkov.txt)

venv: $(VENV)/.installed $(SAM_VENV)/.installed $(RUNTIME_VENV)/.installed $(CHECKOV_VENV)/.installed ## Create the virtualenvs

lint: $(VENV)/.installed ## ruff and mypy --strict
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(VENV)/.installed ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

unit: $(VENV)/.installed ## pytest with the coverage gate
	$(PY) -m pytest -n auto --cov --cov-report=term-missing

validate: $(SAM_VENV)/.installed ## sam validate --lint
	$(SAM_ENV) $(SAM) validate --lint

# template.yaml and the nested stacks it creates from local files.
TEMPLATES := template.yaml notifications.yaml monitoring.yaml data.yaml

scan: $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed ## cfn-lint (with serverless rules) and checkov on the templates
	$(SAM_VENV)/bin/cfn-lint $(TEMPLATES) --append-rules cfn_lint_serverless.rules
	# Offline: no policy download from the vendor, no update check. checkov reads no Fn::ForEach (it warns that it
	# cannot enrich the template and leaves out what the loops make): make rehearse checks those resources, and
	# monitoring.yaml, as CloudFormation receives them.
	BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=true $(CHECKOV_VENV)/bin/checkov --quiet --compact \
		--skip-download --framework cloudformation -f template.yaml -f notifications.yaml -f data.yaml

rehearse: $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed ## Deploy rehearsal: each parameter set transformed as sam deploy does, linted, checked
	$(SAM_VENV)/bin/python -m tooling.rehearsal --checkov $(CHECKOV_VENV)/bin/checkov

# Lambda's /var/task is read-only: without shipped bytecode every cold start compiles every module it imports
# (docs/performance.md measures it). Paths are rewritten to /var/task so tracebacks read as they do in Lambda.
# Without each instruction's column ranges (PYTHONNODEBUGRANGES) the bytecode is smaller and loads faster;
# tracebacks keep every file and line.
compile_bytecode = for fn in $(1)/*Function; do PYTHONNODEBUGRANGES=1 \
	$(PY) -m compileall -q -j 0 --invalidation-mode unchecked-hash -p /var/task -s $$fn $$fn; done
# Then remove what no function loads (tooling/prune.py) and prove it: the import audit's tests, run against the
# pruned artifact, fail the build if anything pruned is needed (skipped when this very artifact passed before).
prune_artifact = $(PY) -m tooling.prune $(1) $(2) && $(PY) -m tooling.import_audit check $(1)/ApiFunction

build: $(SAM_VENV)/.installed $(VENV)/.installed ## sam build for ARCH (python3.13), then compile bytecode into the artifact
	$(SAM_ENV) $(SAM) build --cache-dir .aws-sam/cache-$(ARCH) --parameter-overrides Architecture=$(ARCH)
	$(PY) -m tooling.architecture pin .aws-sam/build $(ARCH)
	$(call compile_bytecode,.aws-sam/build)
	$(call prune_artifact,.aws-sam/build)

build-local: $(SMOKE_BUILD)/.built ## The same build for this machine's architecture (smoke runs, bench)

# Rebuilt only when what it is built from changed, so make smoke, make sam-local-invoke and make bench in a row
# build once.
BUILD_INPUTS := template.yaml data.yaml monitoring.yaml notifications.yaml samconfig.toml Makefile \
	$(shell find functions tooling -type f -not -path '*/__pycache__/*' 2>/dev/null)
$(SMOKE_BUILD)/.built: $(BUILD_INPUTS) $(SAM_VENV)/.installed $(VENV)/.installed
	$(SAM_ENV) $(SAM) build --build-dir $(SMOKE_BUILD) --cache-dir .aws-sam/cache-$(HOST_ARCH) \
		--parameter-overrides Architecture=$(HOST_ARCH)
	$(call compile_bytecode,$(SMOKE_BUILD))
	$(call prune_artifact,$(SMOKE_BUILD),--keep-unpruned $(UNPRUNED_BUILD))
	touch $@

reference-build: $(SAM_VENV)/.installed $(VENV)/.installed ## Build BENCH_REFERENCE's code the same way, for make bench's ratios
	rm -rf $(REFERENCE_DIR) && mkdir -p $(REFERENCE_DIR)/src
	git archive $(BENCH_REFERENCE) | tar -x -C $(REFERENCE_DIR)/src
	cd $(REFERENCE_DIR)/src && $(SAM_ENV) $(abspath $(SAM)) build --build-dir ../build \
		--cache-dir $(abspath .aws-sam/cache-$(HOST_ARCH)) --parameter-overrides Architecture=$(HOST_ARCH)
	$(call compile_bytecode,$(REFERENCE_DIR)/build)

smoke: build-local $(VENV)/.installed $(RUNTIME_VENV)/.installed ## Every event through the built artifact under the Lambda RIE (no Docker)
	$(PY) -m local.smoke --build-dir $(SMOKE_BUILD) --runtime-python $(RUNTIME_VENV)/bin/python --rie $(RIE)

sam-local-invoke: build-local $(VENV)/.installed ## Every event through the real `sam local invoke` (Docker)
	$(SAM_ENV) scripts/sam-local-invoke $(SAM) $(PY) $(SMOKE_BUILD) $(HOST_ARCH)

# Two at a time: the unit tests use both cores for most of their run, while the linters, the rehearsal and the build
# each use one. Each stage's output is printed whole when it ends.
TEST_STAGES := lint unit validate scan rehearse build
test: ## Everything CI checks
	$(MAKE) --no-print-directory --output-sync=target -j2 $(TEST_STAGES)

audit-manifest: $(VENV)/.installed ## Rewrite tooling/loaded-modules.txt from the import audit (what make build keeps)
	$(PY) -m tooling.import_audit manifest

bench: build-local reference-build $(RUNTIME_VENV)/.installed ## Benchmarks (warm, cold start vs BENCH_REFERENCE, size, memory, data path, cost) -> docs/performance.md
	PYTHONPATH=functions $(PY) -m bench.run --build-dir $(SMOKE_BUILD) --runtime-python $(RUNTIME_VENV)/bin/python \
		--unpruned-build $(UNPRUNED_BUILD) --reference-build $(REFERENCE_DIR)/build --reference $(BENCH_REFERENCE) \
		--output docs/performance.md

bench-quick: build-local reference-build $(RUNTIME_VENV)/.installed ## A short benchmark run that proves it still works (CI)
	PYTHONPATH=functions $(PY) -m bench.run --build-dir $(SMOKE_BUILD) --runtime-python $(RUNTIME_VENV)/bin/python \
		--unpruned-build $(UNPRUNED_BUILD) --reference-build $(REFERENCE_DIR)/build --reference $(BENCH_REFERENCE) \
		--quick

fuzz: $(VENV)/.installed ## schemathesis against make dev's stack, then every method on every path -> docs/security.md
	PYTHONPATH=functions $(PY) -m local.fuzz --output docs/security.md

screenshots: $(VENV)/.installed ## Refresh docs/widget*.png from the browser test (needs chromium)
	SCREENSHOT_DIR=docs $(PY) -m pytest -q -p no:cacheprovider tests/local/test_browser_flow.py -k connects

docs: $(VENV)/.installed ## Regenerate docs/openapi.json and the tables in docs/security.md
	PYTHONPATH=functions $(PY) -m tooling.openapi --write
	PYTHONPATH=functions $(PY) -m tests.docs.security_doc --write

deploy: build ## sam deploy --guided of the build for ARCH (make deploy ARCH=x86_64)
	$(SAM_AWS_ENV) $(SAM) deploy --guided --parameter-overrides "$$($(PY) -m tooling.architecture overrides $(ARCH))"

delete: $(SAM_VENV)/.installed ## sam delete STACK=<name> (the connections table and user pool are retained)
	@test -n "$(STACK)" || { echo "usage: make delete STACK=<stack name>"; exit 2; }
	$(SAM_AWS_ENV) $(SAM) delete --stack-name "$(STACK)"

e2e: $(VENV)/.installed ## End-to-end suite over HTTP: against make dev (started and stopped here), or STACK=<name> on AWS
	STACK="$(STACK)" $(PY) -m pytest e2e --no-cov

clean: ## Remove virtualenvs and build output
	rm -rf $(VENV) $(SAM_VENV) $(RUNTIME_VENV) $(CHECKOV_VENV) .aws-sam build .schemathesis .coverage .mypy_cache .ruff_cache
