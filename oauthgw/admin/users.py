"""The Users admin without the resource owners' shadow users (they have their own page)."""

from django.contrib.auth.admin import UserAdmin


class StaffUserAdmin(UserAdmin):
    def get_queryset(self, request):
        # A shadow user can never log in; it is managed as a resource owner.
        return super().get_queryset(request).filter(resource_owner__isnull=True)
