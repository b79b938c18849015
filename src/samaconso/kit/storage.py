"""S3-compatible object storage (MinIO in production, SeaweedFS embedded and in tests).

boto3 is blocking: every call runs in the bounded worker-thread pool with connect/read timeouts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import anyio
import boto3
import structlog
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from samaconso.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = structlog.get_logger(__name__)


class StorageError(RuntimeError):
    pass


class Storage:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client: S3Client = self._make_client(settings.s3_endpoint_url)
        # Presigned links are signed for the host the phone will contact (SigV4 signs the Host header).
        public = settings.s3_public_endpoint_url
        self.signer: S3Client = self._make_client(public) if public else self.client

    def _make_client(self, endpoint_url: str) -> S3Client:
        settings = self.settings
        return boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key,
            aws_secret_access_key=settings.s3_secret_key.get_secret_value(),
            config=Config(
                connect_timeout=settings.s3_timeout_s,
                read_timeout=settings.s3_timeout_s * 4,
                retries={"max_attempts": 2, "mode": "standard"},
                s3={"addressing_style": "path"},
                signature_version="s3v4",
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    @property
    def buckets(self) -> tuple[str, ...]:
        return (self.settings.s3_bucket_avatars, self.settings.s3_bucket_documents)

    def ensure_buckets_sync(self, names: Iterable[str] | None = None) -> None:
        for name in names or self.buckets:
            try:
                self.client.head_bucket(Bucket=name)
            except ClientError:
                log.info("s3_bucket_created", bucket=name)
                self.client.create_bucket(Bucket=name)

    async def ensure_buckets(self) -> None:
        await anyio.to_thread.run_sync(self.ensure_buckets_sync)

    async def ping(self) -> None:
        await anyio.to_thread.run_sync(lambda: self.client.head_bucket(Bucket=self.buckets[0]))

    async def put(
        self, bucket: str, key: str, data: bytes, content_type: str, metadata: dict[str, str]
    ) -> None:
        def _put() -> None:
            self.client.put_object(
                Bucket=bucket, Key=key, Body=data, ContentType=content_type, Metadata=metadata
            )

        await self._call(_put)

    async def get(self, bucket: str, key: str) -> tuple[bytes, str]:
        def _get() -> tuple[bytes, str]:
            obj = self.client.get_object(Bucket=bucket, Key=key)
            return obj["Body"].read(), obj.get("ContentType", "application/octet-stream")

        data, content_type = await self._call(_get)
        return data, str(content_type)

    async def delete(self, bucket: str, key: str) -> None:
        await self._call(lambda: self.client.delete_object(Bucket=bucket, Key=key))

    async def presigned_get(self, bucket: str, key: str, *, filename: str, ttl_s: int | None = None) -> str:
        ttl = min(ttl_s or self.settings.s3_presign_ttl_s, 300)
        safe_name = "".join(c for c in filename if c.isalnum() or c in "._- ")[:120] or "document"

        def _sign() -> str:
            return self.signer.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": bucket,
                    "Key": key,
                    "ResponseContentDisposition": f'attachment; filename="{safe_name}"',
                },
                ExpiresIn=ttl,
            )

        return str(await self._call(_sign))

    async def _call(self, fn: Any) -> Any:
        try:
            return await anyio.to_thread.run_sync(fn)
        except (BotoCoreError, ClientError) as exc:
            log.warning("s3_error", error=type(exc).__name__)
            raise StorageError(type(exc).__name__) from exc
