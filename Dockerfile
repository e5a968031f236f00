# Stage 1 generates leadrelay/v1 from protos/ with the build-only grpcio-tools (pinned in pyproject.toml).
FROM python:3.11-slim AS protos
WORKDIR /build
COPY pyproject.toml ./
RUN pip install --no-cache-dir $(python -c "import tomllib; print(' '.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['proto']))")
COPY protos ./protos
RUN python -m grpc_tools.protoc -Iprotos --python_out=. --grpc_python_out=. protos/leadrelay/v1/*.proto

# The runtime image: what production runs, one image for every LeadRelay process; the command picks
# the process (see docker-compose.yml).
FROM python:3.11-slim AS runtime
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 LEADRELAY_LOG_FORMAT=json LEADRELAY_HOST=0.0.0.0
COPY pyproject.toml ./
COPY leadrelay ./leadrelay
COPY --from=protos /build/leadrelay/v1/ ./leadrelay/v1/
COPY ops ./ops
COPY ingest_service ./ingest_service
COPY validation_service ./validation_service
COPY feedback_service ./feedback_service
COPY reports_app ./reports_app
RUN pip install --no-cache-dir .
USER nobody

# The demo profile's stand-in platforms, CRM and SMTP server (`docker compose --profile demo`).
FROM runtime AS sandbox
USER root
COPY sandbox ./sandbox
RUN pip install --no-cache-dir ".[sandbox]"
USER nobody
