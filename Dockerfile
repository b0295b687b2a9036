# syntax=docker/dockerfile:1
# QuayAdmission image: `make image` (docker build -t quay-admission:dev .); both architectures with
# `docker buildx build --platform linux/amd64,linux/arm64 .`.
#
# Native AOT: the build stage compiles the webhook into one executable for the target architecture
# on the SDK's AOT image (clang, lld and zlib included); it runs on the build machine's platform and
# cross-compiles for the other architecture. The runtime stage has no .NET runtime at all.
# `make publish-native` runs the same restore and publish outside docker, reading PUBLISH_ARGS below.

FROM --platform=$BUILDPLATFORM mcr.microsoft.com/dotnet/sdk:10.0-noble-aot AS build
ARG BUILDARCH
ARG TARGETARCH
ARG PUBLISH_ARGS="-c Release --no-restore"
WORKDIR /src

# Cross-compiling links against the target's C runtime and zlib: add its toolchain and libraries
# (Ubuntu serves arm64 from ports.ubuntu.com, amd64 from archive.ubuntu.com).
RUN if [ "$TARGETARCH" != "$BUILDARCH" ]; then \
      case "$TARGETARCH" in \
        arm64) gcc=gcc-aarch64-linux-gnu; uris=http://ports.ubuntu.com/ubuntu-ports/ ;; \
        amd64) gcc=gcc-x86-64-linux-gnu; uris=http://archive.ubuntu.com/ubuntu/ ;; \
        *) echo "unsupported TARGETARCH $TARGETARCH" >&2; exit 1 ;; \
      esac; \
      sed -i "/^Signed-By:/a Architectures: $BUILDARCH" /etc/apt/sources.list.d/ubuntu.sources \
      && printf 'Types: deb\nURIs: %s\nSuites: noble noble-updates noble-security\nComponents: main restricted\nSigned-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg\nArchitectures: %s\n' "$uris" "$TARGETARCH" > /etc/apt/sources.list.d/target.sources \
      && dpkg --add-architecture "$TARGETARCH" \
      && apt-get update \
      && apt-get install -y --no-install-recommends "$gcc" "zlib1g-dev:$TARGETARCH" \
      && rm -rf /var/lib/apt/lists/*; \
    fi

# Restore from the project files alone, so this layer is reused until they change.
# .editorconfig sets analyzer severities, which decide whether the build passes; Directory.Build.targets
# the native executable's GC settings.
COPY global.json Directory.Build.props Directory.Build.targets Directory.Packages.props .editorconfig ./
COPY src/QuayAdmission/QuayAdmission.csproj src/QuayAdmission/
COPY src/QuayAdmission.Federation/QuayAdmission.Federation.csproj src/QuayAdmission.Federation/
RUN dotnet restore src/QuayAdmission/QuayAdmission.csproj -a $TARGETARCH

COPY src/ src/
RUN dotnet publish src/QuayAdmission/QuayAdmission.csproj $PUBLISH_ARGS -a $TARGETARCH -o /app

# runtime-deps chiseled: glibc, OpenSSL and the CA certificates; no shell, no package manager, no
# .NET runtime (the executable carries its own). Runs as the non-root user `app` (UID 1654).
FROM mcr.microsoft.com/dotnet/runtime-deps:10.0-noble-chiseled
WORKDIR /app
# The executable and its settings; the .dbg symbols stay in the build stage.
COPY --from=build /app/QuayAdmission /app/appsettings.json ./
USER $APP_UID
# The app opens its own listeners (HTTPS 8443, HTTP 8080); clear the image's default
# ASPNETCORE_HTTP_PORTS=8080 so Kestrel does not warn that it overrides it.
ENV ASPNETCORE_HTTP_PORTS=
# Read-only root filesystem: the only write is the runtime's diagnostics socket in /tmp (Native AOT
# keeps it, for dotnet-counters). The Deployment mounts an emptyDir at /tmp; with plain docker use
# `docker run --read-only --tmpfs /tmp ...` (or set DOTNET_EnableDiagnostics=0).
EXPOSE 8443 8080
ENTRYPOINT ["/app/QuayAdmission"]
