"""Database tables (SQLModel), one module per domain, plus the engine and session factory.

Importing this package registers every table on `SQLModel.metadata`, which Alembic and the
schema-equivalence test compare against.
"""

from models.activity import ActivityEvent
from models.categories import Category, CategoryRelation, FieldDefinition
from models.contacts import Contact, ContactLink, Person
from models.exports import Export
from models.files import StoredFile
from models.imports import ContactImport
from models.mail import OutboundMail
from models.notes import Note
from models.rooms import ProjectRoom, RoomCategory, RoomMember
from models.secrets import ServiceSecret
from models.statistics import Statistic
from models.todos import Todo
from models.users import ApiKey, AuthSession, Invitation, LoginThrottle, PasswordReset, User

__all__ = [
    "ActivityEvent",
    "ApiKey",
    "AuthSession",
    "Category",
    "CategoryRelation",
    "Contact",
    "ContactImport",
    "ContactLink",
    "Export",
    "FieldDefinition",
    "Invitation",
    "LoginThrottle",
    "Note",
    "OutboundMail",
    "PasswordReset",
    "Person",
    "ProjectRoom",
    "RoomCategory",
    "RoomMember",
    "ServiceSecret",
    "Statistic",
    "StoredFile",
    "Todo",
    "User",
]
