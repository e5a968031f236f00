# One image for every LeadRelay process; the command picks the process (see docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 LEADRELAY_LOG_FORMAT=json LEADRELAY_HOST=0.0.0.0
COPY pyproject.toml ./
COPY protos ./protos
COPY leadrelay ./leadrelay
COPY ingest_service ./ingest_service
COPY validation_service ./validation_service
COPY feedback_service ./feedback_service
COPY reports_app ./reports_app
COPY sandbox ./sandbox
RUN pip install --no-cache-dir . \
 && python -m grpc_tools.protoc -Iprotos --python_out=. --grpc_python_out=. protos/leadrelay/v1/*.proto
USER nobody
