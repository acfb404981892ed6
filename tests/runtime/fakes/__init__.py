"""Fakes at the cloud SDKs' boundary, for the services with no emulator on this machine
(Service Bus, Pub/Sub, Firestore, GCS). Each fake mirrors the documented behaviour of the SDK
object it replaces, names that behaviour in its docstring, and raises the SDK's own exception
classes, so the backend code under test is the code that runs against the real service."""
