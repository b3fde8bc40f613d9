"""GraphQL over HTTP, after the specification at https://graphql.github.io/graphql-over-http/draft/.

POST with a JSON body runs queries and mutations; GET (and HEAD) run queries only, with the
parameters in the URL. The response media type follows the Accept header:

* `application/graphql-response+json`: a request error (the document does not parse or
  validate, no operation can be chosen, a variable does not fit) answers 400 with `errors` and
  no `data`; a result that executed answers 200.
* `application/json`, the default (no Accept header, `*/*`): such request errors answer 200, as
  the specification recommends for clients that predate it.

Requests that are not GraphQL requests at all (a body that is not a JSON object, wrong parameter
types, another content type or method) answer 4xx with the problem named, whatever the media
type. A result whose every root field failed with a retryable error (`RATE_LIMITED`,
`UNAVAILABLE`) answers 429 or 503 with Retry-After.

GET stays safe from cross-site requests: it never runs a mutation (405), and credentials come
only from the Authorization header, which another site cannot make a browser send.

A mutation with files comes as `multipart/form-data` after the GraphQL multipart request spec
(schema/uploads.py): checked before any file is stored, run once all are.
"""

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import OperationType
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType as Operation

from models.users import Role
from resolvers.context import Context
from schema.graphiql import GraphiQLPage, Manifest
from schema.requests import (
    GraphQLRequest,
    MalformedRequestError,
    OperationIndex,
    RequestError,
    chosen_operation,
    did_not_run,
    formatted_errors,
    graphql_request,
    json_kind,
    refuse_unstorable,
)
from schema.uploads import MultipartRequest, UploadError, is_multipart
from services.errors import AuthError, RetryableError

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
HTML = "text/html"
# Offered in this order when the client does not prefer one: `*/*` gets application/json.
RESPONSE_TYPES = (JSON, GRAPHQL_RESPONSE_JSON)
METHODS = "GET, HEAD, POST"
# Error codes (schema/limits.py ErrorPolicy) that refuse a whole request when every root field
# failed with them, and the HTTP status that says so.
RETRY_STATUS = {"RATE_LIMITED": 429, "UNAVAILABLE": 503}
UTF_8 = ("utf-8", "utf8")


class HttpError(Exception):
    """Not a well-formed GraphQL-over-HTTP request: answered with `status` in any media type."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str = "BAD_REQUEST",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.errors = [{"message": message, "extensions": {"code": code}}]
        self.headers = dict(headers or {})


class GraphQLHTTP:
    """The ASGI endpoint for /graphql."""

    def __init__(
        self,
        schema: strawberry.Schema,
        *,
        context: Callable[[Request], Context],
        graphiql: bool,
        max_tokens: int,
    ) -> None:
        self.schema = schema
        self.context = context
        self.graphiql_page = GraphiQLPage(Manifest.read()) if graphiql else None
        self.max_tokens = max_tokens
        self.operations = OperationIndex(max_tokens)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await self.respond(request)
        if request.method == "HEAD":  # the headers GET would send, no body
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": response.raw_headers,
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        await response(scope, receive, send)

    async def respond(self, request: Request) -> Response:
        media_type = JSON
        try:
            if request.method not in ("GET", "HEAD", "POST"):
                raise HttpError(
                    405,
                    f"{request.method} is not served here: send POST, or GET for queries",
                    "METHOD_NOT_ALLOWED",
                    {"Allow": METHODS},
                )
            media_type = self._media_type(request)
            if media_type == HTML and self.graphiql_page is not None:
                return self.graphiql_page.response(request)
            if request.method == "POST" and is_multipart(request.headers.get("content-type")):
                return await self._run_with_files(request, media_type)
            if request.method == "POST":
                parameters = await parameters_from_body(request)
            else:
                parameters = parameters_from_url(request)
            return await self._run(request, graphql_request(parameters), media_type)
        except HttpError as error:
            body = {"errors": error.errors}
            return graphql_response(body, error.status, media_type, error.headers)
        except MalformedRequestError as error:
            body = {"errors": [{"message": str(error), "extensions": {"code": "BAD_REQUEST"}}]}
            return graphql_response(body, 400, media_type)
        except RequestError as error:
            return request_error_response(error.errors, media_type)

    def _media_type(self, request: Request) -> str:
        # Browsers asking for /graphql get GraphiQL; a URL with a query is an API request.
        browsing = request.method != "POST" and "query" not in request.query_params
        offers = (*RESPONSE_TYPES, HTML) if self.graphiql_page and browsing else RESPONSE_TYPES
        chosen = negotiate(", ".join(request.headers.getlist("accept")), offers)
        if chosen is None:
            raise HttpError(
                406,
                f"None of the media types in Accept is served here: ask for "
                f"{GRAPHQL_RESPONSE_JSON} or {JSON}",
                "NOT_ACCEPTABLE",
            )
        return chosen

    async def _run(
        self,
        request: Request,
        params: GraphQLRequest,
        media_type: str,
        context: Context | None = None,
    ) -> Response:
        refuse_unstorable(params)
        operation = chosen_operation(
            self.operations.operations_in(params.query), params.operation_name
        )
        if operation == OperationType.SUBSCRIPTION:
            raise RequestError.bad("Subscriptions are not served over HTTP")
        if operation == OperationType.MUTATION and request.method != "POST":
            # Safe methods never change anything (and so cannot be used across sites).
            raise HttpError(
                405,
                "Mutations run only over POST; GET is for queries",
                "METHOD_NOT_ALLOWED",
                {"Allow": "POST"},
            )
        allowed = [Operation.QUERY]
        if request.method == "POST":
            allowed.append(Operation.MUTATION)
        context = context or self.context(request)
        try:
            result = await self.schema.execute(
                params.query,
                variable_values=params.variables,
                context_value=context,
                operation_name=params.operation_name,
                allowed_operation_types=allowed,
            )
        finally:
            await context.close()
        return result_response(result, media_type)

    async def _run_with_files(self, request: Request, media_type: str) -> Response:
        """A mutation with files: the operation and who sends it are checked before any file
        is stored; files that no committed change kept are deleted afterwards."""
        context = self.context(request)
        try:
            form = await MultipartRequest.start(request)
            params = graphql_request(form.operations)
            refuse_unstorable(params)
            operation = chosen_operation(
                self.operations.operations_in(params.query), params.operation_name
            )
            if operation != OperationType.MUTATION:
                raise HttpError(400, "Files can be sent with a mutation only")
            try:
                await context.require(Role.MEMBER)
            except AuthError as exc:
                status = 401 if exc.code == "UNAUTHENTICATED" else 403
                raise HttpError(status, str(exc), exc.code) from None
            except RetryableError as exc:
                retry = {"Retry-After": str(exc.retry_after)}
                raise HttpError(RETRY_STATUS[exc.code], str(exc), exc.code, retry) from None
            storage, limit = context.resources.storage, context.settings.max_upload_bytes
            async with form.stored(storage, limit) as operations:
                return await self._run(request, graphql_request(operations), media_type, context)
        except UploadError as error:
            raise HttpError(error.status, str(error), error.code, error.headers) from None
        finally:
            await context.close()


# --- content negotiation ------------------------------------------------------------------------


@dataclass(frozen=True)
class MediaRange:
    kind: str
    subtype: str
    quality: float
    position: int
    charset: str | None

    def specificity(self, offer: str) -> int | None:
        """How exactly this range names `offer` (2 exactly, 1 `type/*`, 0 `*/*`), or None."""
        kind, _, subtype = offer.partition("/")
        if self.kind not in (kind, "*") or self.subtype not in (subtype, "*"):
            return None
        if self.charset is not None and self.charset not in UTF_8:
            return None  # every response is UTF-8
        return (self.kind != "*") + (self.subtype != "*")


def parse_accept(header: str) -> list[MediaRange]:
    ranges = []
    for position, part in enumerate(header.split(",")):
        media, *parameters = part.split(";")
        kind, slash, subtype = media.strip().lower().partition("/")
        if not (kind and slash and subtype):
            continue
        quality, charset = 1.0, None
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            name, value = name.strip().lower(), value.strip().strip('"').lower()
            if name == "q":
                quality = _quality(value)
            elif name == "charset":
                charset = value
        ranges.append(MediaRange(kind, subtype, quality, position, charset))
    return ranges


def _quality(value: str) -> float:
    try:
        quality = float(value)
    except ValueError:
        return 0.0
    return quality if 0.0 <= quality <= 1.0 else 0.0


def negotiate(header: str, offers: Sequence[str]) -> str | None:
    """The offer the Accept header prefers: the highest q-value (taken from the most specific
    range naming the offer), then the more specific range, then the client's order, then
    `offers`' order. No header at all means the first offer."""
    if not header.strip():
        return offers[0]
    ranges = parse_accept(header)
    best: tuple[float, int, int, int] | None = None
    chosen = None
    for rank, offer in enumerate(offers):
        matches = [(s, r) for r in ranges if (s := r.specificity(offer)) is not None]
        if not matches:
            continue
        specificity, match = max(matches, key=lambda m: (m[0], -m[1].position))
        if match.quality <= 0:
            continue
        key = (match.quality, specificity, -match.position, -rank)
        if best is None or key > best:
            best, chosen = key, offer
    return chosen


# --- reading the request --------------------------------------------------------------------


async def parameters_from_body(request: Request) -> dict[str, Any]:
    check_content_type(request.headers.get("content-type"))
    body = await request.body()
    if not body.strip():
        raise HttpError(
            400, "The request body is empty: send a JSON object with the document in `query`"
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HttpError(400, f"The request body is not valid UTF-8 (at byte {exc.start})") from None
    parameters = decode_json(text, "The request body")
    if isinstance(parameters, list):
        raise HttpError(
            400, "Batching is not supported: send one operation per request, as a JSON object"
        )
    if not isinstance(parameters, dict):
        raise HttpError(
            400,
            "The request body must be a JSON object with the document in `query`, "
            f"not {json_kind(parameters)}",
        )
    return parameters


def check_content_type(header: str | None) -> None:
    if not header:
        raise HttpError(
            415,
            f"The request has no Content-Type: send a JSON body with Content-Type: {JSON}",
            "UNSUPPORTED_MEDIA_TYPE",
        )
    media, *parameters = header.split(";")
    if media.strip().lower() != JSON:
        raise HttpError(
            415,
            f"Content-Type {media.strip()[:100]} is not supported: send a JSON body with "
            f"Content-Type: {JSON}",
            "UNSUPPORTED_MEDIA_TYPE",
        )
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in UTF_8:
            raise HttpError(
                415,
                f"The charset {charset[:100]} is not supported: send the body in UTF-8",
                "UNSUPPORTED_MEDIA_TYPE",
            )


def parameters_from_url(request: Request) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    for name in ("query", "operationName", "variables", "extensions"):
        values = request.query_params.getlist(name)
        if len(values) > 1:
            raise HttpError(400, f"The URL gives `{name}` {len(values)} times; give it once")
        if values and values[0]:
            value = values[0]
            if name in ("variables", "extensions"):
                value = decode_json(value, f"The URL parameter `{name}`")
            parameters[name] = value
    return parameters


def decode_json(text: str, what: str) -> Any:
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise HttpError(400, f"{what} nests JSON too deeply to be read") from None
    except json.JSONDecodeError as exc:
        raise HttpError(
            400, f"{what} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except ValueError as exc:
        raise HttpError(400, f"{what} is not valid JSON: {exc}") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


# --- answering ----------------------------------------------------------------------------------


def result_response(result: ExecutionResult, media_type: str) -> Response:
    errors = formatted_errors(result)
    if did_not_run(result.data, errors):
        return request_error_response(errors, media_type)
    refused = refusal(result.data, errors)
    if refused is not None:
        status, retry_after = refused
        return graphql_response(
            {"errors": errors}, status, media_type, {"Retry-After": str(retry_after)}
        )
    body: dict[str, Any] = {"data": result.data}
    if errors:
        body["errors"] = errors
    if result.extensions:
        body["extensions"] = result.extensions
    return graphql_response(body, 200, media_type)


def refusal(data: dict[str, Any] | None, errors: list[dict[str, Any]]) -> tuple[int, int] | None:
    """(status, Retry-After seconds) when every root field failed with a retryable error."""
    if not errors or (data is not None and any(value is not None for value in data.values())):
        return None
    extensions = [error.get("extensions") or {} for error in errors]
    codes = [str(extension.get("code")) for extension in extensions]
    if not all(code in RETRY_STATUS for code in codes):
        return None
    status = max(RETRY_STATUS[code] for code in codes)
    return status, max(int(extension.get("retryAfter", 1)) for extension in extensions)


def request_error_response(errors: list[dict[str, Any]], media_type: str) -> Response:
    status = 400 if media_type == GRAPHQL_RESPONSE_JSON else 200
    return graphql_response({"errors": errors}, status, media_type)


def graphql_response(
    body: dict[str, Any], status: int, media_type: str, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        encode(body),
        status,
        headers={"Vary": "Accept", **(headers or {})},
        media_type=f"{media_type}; charset=utf-8",
    )


def encode(body: dict[str, Any]) -> bytes:
    try:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in a message: escape it rather than fail
        return json.dumps(body, separators=(",", ":")).encode("ascii")
