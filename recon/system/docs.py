"""`/schema`: the OpenAPI document, and Swagger UI that works with no network.

Litestar's pages load their scripts from a CDN, so a ward's machine offline showed a blank
page. Swagger UI's files come here from a PyPI package (`swagger-ui-bundle-v2`) and are served
beside the page: `/schema` (Swagger UI, the document inlined), `/schema/openapi.json`,
`/schema/openapi.yaml`, and the UI's files under `/schema/swagger-ui/`.
"""

from __future__ import annotations

from pathlib import Path

from litestar import Router
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin, YamlRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path

from recon import __version__

SCHEMA_PATH = "/schema"
ASSETS = "/swagger-ui"
ASSETS_DIRECTORY = Path(str(swagger_ui_path))


class OfflineSwaggerPlugin(SwaggerRenderPlugin):
    """Swagger UI from files this app serves itself (no CDN, no favicon from the web)."""

    def __init__(self) -> None:
        base = f"{SCHEMA_PATH}{ASSETS}"
        super().__init__(
            js_url=f"{base}/swagger-ui-bundle.js",
            css_url=f"{base}/swagger-ui.css",
            standalone_preset_js_url=f"{base}/swagger-ui-standalone-preset.js",
            favicon=f"<link rel='icon' type='image/png' href='{base}/favicon-32x32.png'>",
            path="/swagger",
        )

    def receive_router(self, router: Router) -> None:
        super().receive_router(router)
        router.register(
            create_static_files_router(
                path=ASSETS,
                directories=[ASSETS_DIRECTORY],
                name="swagger-ui-assets",
                include_in_schema=False,
            )
        )


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="recon",
        version=__version__,
        path=SCHEMA_PATH,
        # the first plugin also answers at `/schema` itself
        render_plugins=[OfflineSwaggerPlugin(), JsonRenderPlugin(), YamlRenderPlugin()],
        components=Components(
            security_schemes={
                "apiKey": SecurityScheme(type="http", scheme="bearer", description="API key")
            }
        ),
    )
