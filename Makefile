# QuayAdmission: verbs for building, testing and running the webhook.
DOTNET ?= dotnet
CONFIGURATION ?= Release
RESULTS := artifacts/test-results

.PHONY: build test run demo bench clean

build:
	$(DOTNET) build QuayAdmission.sln -c $(CONFIGURATION)

# Runs every test and ends with one line: "tests: N passed, N failed[, N skipped]".
test:
	rm -rf $(RESULTS)
	$(DOTNET) test QuayAdmission.sln -c $(CONFIGURATION) --logger "trx" --results-directory $(RESULTS); \
	  status=$$?; scripts/test-summary.sh $(RESULTS); exit $$status

# The real webhook process against local stand-ins of the Kubernetes API and Quay, narrated.
demo:
	$(DOTNET) build QuayAdmission.sln -c $(CONFIGURATION) -v quiet -nologo
	$(DOTNET) run --project tests/QuayAdmission.Demo -c $(CONFIGURATION) --no-build -- \
	  src/QuayAdmission/bin/$(CONFIGURATION)/net10.0/QuayAdmission.dll

# The webhook against the current kube context (KUBECONFIG or ~/.kube/config), on loopback ports,
# with a self-signed serving certificate (a cluster never gets one: its /readyz would say 503).
QUAY_HOST ?= quay.io
run:
	QuayAdmission__Registries__0__Host=$(QUAY_HOST) \
	QuayAdmission__Server__BindAddress=127.0.0.1 \
	QuayAdmission__Tls__AllowSelfSigned=true \
	$(DOTNET) run --project src/QuayAdmission -c $(CONFIGURATION)

bench:
	bench/run.sh

clean:
	$(DOTNET) clean QuayAdmission.sln -v quiet
	rm -rf artifacts

-include deploy.mk
