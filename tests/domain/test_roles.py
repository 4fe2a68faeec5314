from __future__ import annotations

import pytest

from tidings.domain.errors import PermissionDenied
from tidings.domain.roles import Permission, Role, allows, require


def test_roles_grant_what_they_say() -> None:
    assert all(allows(Role.ADMIN, p) for p in Permission)
    assert allows(Role.EDITOR, Permission.SEND) and not allows(Role.EDITOR, Permission.ADMINISTER)
    assert [p for p in Permission if allows(Role.VIEWER, p)] == [Permission.READ]
    with pytest.raises(PermissionDenied):
        require(Role.VIEWER, Permission.WRITE)
