"""Database tables (SQLModel), one module per domain, plus the engine and session factory.

Importing this package registers every table on `SQLModel.metadata`, which Alembic and the
schema-equivalence test compare against.
"""

from models.categories import Category, CategoryRelation, FieldDefinition
from models.contacts import Contact, ContactLink, Person
from models.users import ApiKey, AuthSession, Invitation, LoginThrottle, PasswordReset, User

__all__ = [
    "ApiKey",
    "AuthSession",
    "Category",
    "CategoryRelation",
    "Contact",
    "ContactLink",
    "FieldDefinition",
    "Invitation",
    "LoginThrottle",
    "PasswordReset",
    "Person",
    "User",
]
