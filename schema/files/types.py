"""Files on cards as the API shows them."""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry

from models.contacts import Contact as ContactModel
from models.files import FileState, StoredFile
from resolvers import files as resolve
from schema import cost
from schema.common import Info, Node, PageInfo, node_type
from schema.node import LazyRoom, resolve_node, room_node, visible
from schema.users.types import User
from services.files import FilePage, may_see
from services.ids import encode_id

if TYPE_CHECKING:
    from schema.contacts.types import Contact

strawberry.enum(
    FileState,
    description="READY: stored and downloadable. PENDING: a direct upload that is not "
    "confirmed yet (seen by its uploader only).",
)


@node_type(StoredFile, visible=may_see, room=lambda file: file.room_id)
@strawberry.type(
    description="A file on a card. Download it from `downloadUrl`, or from /files/<id> with "
    "the Authorization header."
)
class File(Node):
    name: str
    content_type: str
    size: int = strawberry.field(description="In bytes.")
    sha256: str | None = strawberry.field(
        description="SHA-256 of the contents, in hex; null until a direct upload is confirmed."
    )
    state: FileState
    created_at: datetime
    # A row as pages read it (services.files.FileRow) or the model a mutation wrote.
    _row: strawberry.Private[Any]

    @classmethod
    def of(cls, row: Any) -> "File":
        return cls(
            id=strawberry.ID(encode_id("File", row.id)),
            name=row.name,
            content_type=row.content_type,
            size=row.size,
            sha256=row.sha256,
            state=FileState(row.state),
            created_at=row.created_at,
            _row=row,
        )

    @strawberry.field(description="The card the file is on.")
    async def contact(
        self, info: Info
    ) -> Annotated["Contact", strawberry.lazy("schema.contacts.types")] | None:
        if self._row.contact_id is None:
            return None
        # Through the node registry: the contacts schema builds on this one.
        return cast(
            "Contact | None", await resolve_node(info.context, "Contact", self._row.contact_id)
        )

    @strawberry.field(description="The project room it belongs to, when it is a room's own.")
    async def room(self, info: Info) -> LazyRoom | None:
        return await room_node(info.context, self._row.room_id)

    @strawberry.field(description="Null when deactivated and you are not an admin.")
    async def uploaded_by(self, info: Info) -> User | None:
        return await visible(info.context, User, self._row.uploaded_by_id)

    @strawberry.field(
        description="Downloads the file without credentials until it expires "
        "(CRM_DOWNLOAD_URL_TTL_SECONDS): presigned by S3, or signed by the service. Null while "
        "a direct upload is not confirmed."
    )
    async def download_url(self, info: Info) -> str | None:
        return await resolve.download_url(info.context, self._row)


@strawberry.type
class FileEdge:
    cursor: str
    node: File


@strawberry.type
class FileConnection:
    edges: list[FileEdge] = strawberry.field(metadata=cost.in_page())
    page_info: PageInfo
    total_count: int = strawberry.field(description="Files on the card, on every page.")

    @classmethod
    def of_page(cls, page: FilePage) -> "FileConnection":
        return cls(
            edges=[
                FileEdge(cursor=cursor, node=File.of(row))
                for row, cursor in zip(page.files, page.cursors, strict=True)
            ],
            page_info=PageInfo.of(
                page.cursors, has_next=page.has_next, has_previous=page.has_previous
            ),
            total_count=page.total,
        )

    @strawberry.field(metadata=cost.in_page())
    def nodes(self) -> list[File]:
        return [edge.node for edge in self.edges]


async def files_of_card(
    info: Info, contact: ContactModel, *, first: int | None, after: str | None
) -> FileConnection:
    """`Contact.files`: one page of the card's files, newest first."""
    page = await resolve.files_page(info.context, contact, first=first, after=after)
    return FileConnection.of_page(page)
