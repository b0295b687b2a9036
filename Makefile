# QuayAdmission: verbs for building, testing and running the webhook.
DOTNET ?= dotnet
CONFIGURATION ?= Release
RESULTS := artifacts/test-results

# Native AOT executables: each published once per run (a file target, redone only when a source
# changed), then reused by `make test` (the smoke suite runs the binary named by NATIVE_ENV) and
# `make bench`. The webhook's publish is the Dockerfile's (same PUBLISH_ARGS), for this machine's
# architecture; `make publish-native ARCH=arm64` cross-compiles when the toolchain is there.
NATIVE := artifacts/native
ARCH ?= $(if $(filter aarch64 arm64,$(shell uname -m)),arm64,x64)
PUBLISH_ARGS := $(shell sed -n 's/^ARG PUBLISH_ARGS="\(.*\)"$$/\1/p' Dockerfile)
SOURCES := $(shell find src global.json Directory.Build.props Directory.Build.targets Directory.Packages.props .editorconfig -type f -not -path '*/bin/*' -not -path '*/obj/*' 2>/dev/null)
WEBHOOK_BIN := $(NATIVE)/quay-admission/QuayAdmission
NATIVE_ENV := QUAY_ADMISSION_NATIVE_BIN=$(abspath $(WEBHOOK_BIN))

FLOOR_BIN := $(NATIVE)/floor/QuayAdmission.Floor

.PHONY: build test e2e print-shared run demo bench clean publish-native publish-floor provider native-deps

build:
	$(DOTNET) build QuayAdmission.sln -c $(CONFIGURATION)

# The kubelet credential provider as nodes get it: one Native AOT file (linux-x64 here; linux-arm64
# needs an arm64 cross toolchain: PROVIDER_RID=linux-arm64 on an arm64 machine or with one installed).
PROVIDER_RID ?= linux-x64
PROVIDER_DIR := artifacts/credential-provider/$(PROVIDER_RID)
PROVIDER_BIN := $(PROVIDER_DIR)/quay-credential-provider
NATIVE_ENV += QUAY_CREDENTIAL_PROVIDER_BIN=$(abspath $(PROVIDER_BIN))

provider: native-deps
	$(DOTNET) publish src/QuayAdmission.CredentialProvider -c $(CONFIGURATION) -r $(PROVIDER_RID) -o $(PROVIDER_DIR)

# Native AOT links with clang against zlib.
native-deps:
	scripts/native-deps.sh

# Runs every test and ends with one line: "tests: N passed, N failed[, N skipped]". The native
# smoke suites drive the executables published once just before (the webhook, the provider).
test: publish-native provider
	rm -rf $(RESULTS)
	$(NATIVE_ENV) $(DOTNET) test QuayAdmission.sln -c $(CONFIGURATION) --logger "trx" --results-directory $(RESULTS); \
	  status=$$?; scripts/test-summary.sh $(RESULTS); exit $$status

# The native webhook on a real control plane and node, offline, on loopback (tests/QuayAdmission.E2E,
# README.md "End-to-end test"): the shared folder's realk8s/up.sh and realnode/up.sh, started once.
# Without their binaries every scenario is reported skipped, with the reason. Ends with each scenario's
# measured figures and "tests: N passed, N failed[, N skipped]". The folder is found beside the clone
# (CI, /work/main: ../shared) or beside one of its parents (a worktree /work/wt/NAME: ../../shared);
# `make e2e SHARED=/path/to/shared` names it. Needs root (the node). A run that hangs is ended after
# 25 minutes and counts as failed. The kind path is `make e2e-kind`.
SHARED ?= $(patsubst %/realk8s/up.sh,%,$(firstword $(wildcard $(abspath ../shared/realk8s/up.sh ../../shared/realk8s/up.sh ../../../shared/realk8s/up.sh))))
E2E_RESULTS := artifacts/e2e-results

# .ci/run stops the control plane and node in that folder at its end.
print-shared:
	@echo $(SHARED)

e2e: publish-native
	rm -rf $(E2E_RESULTS)
	$(NATIVE_ENV) QUAY_ADMISSION_SHARED=$(SHARED) QUAY_ADMISSION_E2E_RESULTS=$(abspath $(E2E_RESULTS)) \
	  $(DOTNET) test tests/QuayAdmission.E2E -c $(CONFIGURATION) --logger "trx" --results-directory $(E2E_RESULTS) \
	    --blame-hang-timeout 25m --blame-hang-dump-type none; \
	  status=$$?; echo "e2e figures:"; sort -k1.2n $(E2E_RESULTS)/figures.txt 2>/dev/null || echo "(none: see $(E2E_RESULTS)/logs)"; \
	  scripts/test-summary.sh $(E2E_RESULTS); exit $$status

publish-native: $(WEBHOOK_BIN)

# The executable takes the time its publish started, so a source edited during the publish is newer.
$(WEBHOOK_BIN): $(SOURCES) Dockerfile | native-deps
	@mkdir -p $(NATIVE) && touch $(NATIVE)/.webhook-started
	$(DOTNET) restore src/QuayAdmission/QuayAdmission.csproj -a $(ARCH)
	$(DOTNET) publish src/QuayAdmission/QuayAdmission.csproj $(PUBLISH_ARGS) -a $(ARCH) -o $(NATIVE)/quay-admission
	@touch -r $(NATIVE)/.webhook-started $@

# The bench's floor, built the way the native webhook is (make bench only).
publish-floor: $(FLOOR_BIN)

$(FLOOR_BIN): $(wildcard bench/QuayAdmission.Floor/*) Directory.Build.props Directory.Build.targets Directory.Packages.props | native-deps
	@mkdir -p $(NATIVE) && touch $(NATIVE)/.floor-started
	$(DOTNET) publish bench/QuayAdmission.Floor/QuayAdmission.Floor.csproj -c Release -a $(ARCH) -o $(NATIVE)/floor
	@touch -r $(NATIVE)/.floor-started $@

# The real webhook process against local stand-ins of the Kubernetes API and Quay, narrated.
demo:
	$(DOTNET) build QuayAdmission.sln -c $(CONFIGURATION) -v quiet -nologo
	$(DOTNET) run --project tests/QuayAdmission.Demo -c $(CONFIGURATION) --no-build -- \
	  src/QuayAdmission/bin/$(CONFIGURATION)/net10.0/QuayAdmission.dll \
	  src/QuayAdmission.CredentialProvider/bin/$(CONFIGURATION)/net10.0/quay-credential-provider.dll

# The webhook against the current kube context (KUBECONFIG or ~/.kube/config), on loopback ports,
# with a self-signed serving certificate (a cluster never gets one: its /readyz would say 503).
QUAY_HOST ?= quay.io
run:
	QuayAdmission__Registries__0__Host=$(QUAY_HOST) \
	QuayAdmission__Server__BindAddress=127.0.0.1 \
	QuayAdmission__Tls__AllowSelfSigned=true \
	$(DOTNET) run --project src/QuayAdmission -c $(CONFIGURATION)

# JIT and Native AOT side by side (bench/run.sh publishes what is not up to date), then the
# credential provider's cold start.
bench: provider
	bench/run.sh
	bench/provider.sh $(PROVIDER_BIN)

clean:
	$(DOTNET) clean QuayAdmission.sln -v quiet
	rm -rf artifacts

-include deploy.mk
