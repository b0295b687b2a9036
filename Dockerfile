# syntax=docker/dockerfile:1
# QuayAdmission image: `make image` (docker build -t quay-admission:dev .).
#
# The publish is framework-dependent and architecture-neutral, so the build stage runs on the
# build machine's platform and the same output serves every target platform.
# `make publish` runs the same restore and publish outside docker, reading PUBLISH_ARGS below.

FROM --platform=$BUILDPLATFORM mcr.microsoft.com/dotnet/sdk:10.0 AS build
ARG PUBLISH_ARGS="-c Release --no-restore -p:UseAppHost=false"
WORKDIR /src

# Restore from the project files alone, so this layer is reused until they change.
# .editorconfig sets analyzer severities, which decide whether the build passes.
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY src/QuayAdmission/QuayAdmission.csproj src/QuayAdmission/
COPY src/QuayAdmission.Federation/QuayAdmission.Federation.csproj src/QuayAdmission.Federation/
RUN dotnet restore src/QuayAdmission/QuayAdmission.csproj

COPY src/ src/
RUN dotnet publish src/QuayAdmission/QuayAdmission.csproj $PUBLISH_ARGS -o /app

# Chiseled: no shell, no package manager; runs as the non-root user `app` (UID 1654).
FROM mcr.microsoft.com/dotnet/aspnet:10.0-noble-chiseled
WORKDIR /app
COPY --from=build /app .
USER $APP_UID
# The app opens its own listeners (HTTPS 8443, HTTP 8080); clear the image's default
# ASPNETCORE_HTTP_PORTS=8080 so Kestrel does not warn that it overrides it.
ENV ASPNETCORE_HTTP_PORTS=
# Read-only root filesystem: the only write is the .NET diagnostics socket in /tmp. The
# Deployment mounts an emptyDir at /tmp; with plain docker use
# `docker run --read-only --tmpfs /tmp ...` (or set DOTNET_EnableDiagnostics=0).
EXPOSE 8443 8080
ENTRYPOINT ["dotnet", "QuayAdmission.dll"]
