FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 TOOTHLINE_VAR_DIR=/var/lib/toothline
RUN apt-get update && apt-get install -y --no-install-recommends fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/* && useradd --system --home /app toothline
WORKDIR /app
COPY pyproject.toml README.md ./
COPY portal ./portal
COPY reviewer ./reviewer
COPY storage ./storage
COPY templates ./templates
RUN pip install --no-cache-dir -e . && mkdir -p /var/lib/toothline && chown toothline /var/lib/toothline
USER toothline
EXPOSE 8000
CMD ["toothline", "run", "--host", "0.0.0.0", "--port", "8000"]
