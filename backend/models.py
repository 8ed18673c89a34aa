"""Import every model so the metadata is complete (Alembic, tests)."""

from backend.audit import Event  # noqa: F401
from backend.auth.api_keys import ApiKey  # noqa: F401
from backend.auth.models import RefreshToken  # noqa: F401
from backend.campaigns.models import Campaign, TaskTemplate  # noqa: F401
from backend.catalog.models import Product, ProductPairing  # noqa: F401
from backend.db import Base  # noqa: F401
from backend.org.models import Region, Store, StoreTag, User  # noqa: F401
from backend.tasks.models import (Blob, StoreTask, TaskChecklistItem, TaskClaim, TaskNote,  # noqa: F401
                                   TaskPhoto, TaskSale)
from backend.changefeed import Change, ChangeCounter  # noqa: F401
from backend.sales.models import SalesLine  # noqa: F401
from backend.analytics.models import (ClaimDelayHistogram, ClerkRollup, DayRollup,  # noqa: F401
                                      StoreRollup)
