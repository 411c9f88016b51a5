"""FastAPI's security tutorial app (OAuth2 password flow, JWT bearer tokens), serving Rollout tokens.

    ROLLOUT_CLIENT_ID=... ROLLOUT_CLIENT_SECRET=... .venv/bin/uvicorn fastapi_app:app --app-dir examples

In http://127.0.0.1:8000/docs, Authorize as johndoe / secret, then try GET /rollout-token
(alice / secret2 is disabled: 400; no bearer token: FastAPI's 401).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Iterator
from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from pydantic import BaseModel

from rollout_middleware.contrib.fastapi import rollout_token_router

SECRET_KEY = os.environ.get("APP_SECRET_KEY") or secrets.token_hex(32)  # the app's own key


def hash_password(password: str) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), b"demo-salt", 100_000).hex()


USERS = {
    "johndoe": {"username": "johndoe", "hashed_password": hash_password("secret")},
    "alice": {"username": "alice", "hashed_password": hash_password("secret2"), "disabled": True},
}


class User(BaseModel):
    username: str
    disabled: bool = False


def get_db() -> Iterator[dict[str, dict[str, Any]]]:
    yield USERS  # a real app opens a database session here, and closes it after the request


DB = Annotated[dict[str, dict[str, Any]], Depends(get_db)]


oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token")
app = FastAPI()


@app.post("/token")
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], db: DB) -> dict[str, str]:
    hashed = db.get(form.username, {}).get("hashed_password", "")
    if not hmac.compare_digest(hashed, hash_password(form.password)):
        raise HTTPException(401, "Incorrect username or password")
    claims = {"sub": form.username, "exp": int(time.time()) + 1800}
    return {"access_token": jwt.encode(claims, SECRET_KEY, "HS256"), "token_type": "bearer"}


def get_current_user(token: Annotated[str, Depends(oauth2_scheme)], db: DB) -> User:
    try:
        return User(**db[jwt.decode(token, SECRET_KEY, algorithms=["HS256"])["sub"]])
    except (jwt.InvalidTokenError, KeyError):
        detail = "Could not validate credentials"
        raise HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"}) from None


def get_current_active_user(user: Annotated[User, Depends(get_current_user)]) -> User:
    if user.disabled:
        raise HTTPException(400, "Inactive user")
    return user


# Rollout: a token for the user the app's own dependencies say is logged in.
def current_user_id(user: Annotated[User, Depends(get_current_active_user)]) -> str:
    return user.username


app.include_router(rollout_token_router(current_user_id))
