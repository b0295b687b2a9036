# Deployment targets; the main Makefile includes this file. Run from the repository root.
# `image`, `e2e-kind` need docker; `deploy*`, `undeploy`, `logs` need kubectl and a cluster.
# (`make e2e`, in the Makefile, needs neither: a real control plane and node of its own, offline.)

IMAGE ?= quay-admission:dev
DOCKER ?= docker
KUBECTL ?= kubectl
NAMESPACE := quay-admission

.PHONY: image publish deploy deploy-dev-certs undeploy logs e2e-kind

image:
	$(DOCKER) build -t $(IMAGE) .

# What the image ships, for this machine's architecture, in artifacts/native/quay-admission (Makefile).
publish: publish-native

# Needs cert-manager in the cluster. The manifests use the image quay-admission:dev; for a
# registry image, see README.md ("Install").
deploy:
	$(KUBECTL) apply -k manifests/

# Without cert-manager: a dev CA and serving certificate from certs/generate.sh.
deploy-dev-certs:
	certs/generate.sh
	$(KUBECTL) apply -k certs/

# Removes the webhook first, then everything else, whichever path installed it. The pull
# Secrets it wrote in other namespaces stay (README.md, "Uninstall").
undeploy:
	$(KUBECTL) delete mutatingwebhookconfiguration,validatingadmissionpolicybinding,validatingadmissionpolicy,clusterrolebinding,clusterrole \
		-l app.kubernetes.io/name=quay-admission --ignore-not-found
	$(KUBECTL) delete namespace $(NAMESPACE) --ignore-not-found

logs:
	$(KUBECTL) -n $(NAMESPACE) logs -l app.kubernetes.io/name=quay-admission --prefix --tail=200 -f

# The image on a kind cluster with cert-manager (the Deployment, the Service, cert-manager's caBundle);
# needs docker, kind, kubectl and internet.
e2e-kind:
	IMAGE=$(IMAGE) tests/e2e/run.sh
