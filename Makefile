# QuayAdmission: verbs for building, testing and running the webhook.
DOTNET ?= dotnet
CONFIGURATION ?= Release
RESULTS := artifacts/test-results

.PHONY: build test run demo bench clean provider native-deps

build:
	$(DOTNET) build QuayAdmission.sln -c $(CONFIGURATION)

# The kubelet credential provider as nodes get it: one Native AOT file (linux-x64 here; linux-arm64
# needs an arm64 cross toolchain: PROVIDER_RID=linux-arm64 on an arm64 machine or with one installed).
PROVIDER_RID ?= linux-x64
PROVIDER_DIR := artifacts/credential-provider/$(PROVIDER_RID)
PROVIDER_BIN := $(PROVIDER_DIR)/quay-credential-provider

provider: native-deps
	$(DOTNET) publish src/QuayAdmission.CredentialProvider -c $(CONFIGURATION) -r $(PROVIDER_RID) -o $(PROVIDER_DIR)

# Native AOT links with clang against zlib.
native-deps:
	scripts/native-deps.sh

# Runs every test and ends with one line: "tests: N passed, N failed[, N skipped]". The credential
# provider's tests drive the native binary published once just before.
test: provider
	rm -rf $(RESULTS)
	QUAY_CREDENTIAL_PROVIDER_BIN=$(abspath $(PROVIDER_BIN)) \
	$(DOTNET) test QuayAdmission.sln -c $(CONFIGURATION) --logger "trx" --results-directory $(RESULTS); \
	  status=$$?; scripts/test-summary.sh $(RESULTS); exit $$status

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

bench: provider
	bench/run.sh
	bench/provider.sh $(PROVIDER_BIN)

clean:
	$(DOTNET) clean QuayAdmission.sln -v quiet
	rm -rf artifacts

-include deploy.mk
