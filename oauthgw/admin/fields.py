"""Form fields the gateway's admin forms share."""

from django import forms


class SpaceSeparatedMultipleChoiceField(forms.MultipleChoiceField):
    """Checkboxes in the form, a space-separated string in the model."""

    widget = forms.CheckboxSelectMultiple

    def prepare_value(self, value):
        return value.split() if isinstance(value, str) else value

    def clean(self, value):
        return " ".join(super().clean(value))

    def has_changed(self, initial, data):
        return super().has_changed(self.prepare_value(initial), data)


class WriteOnlySecretField(forms.CharField):
    """A secret the form never renders back; left empty, the stored one is kept.

    The form's ``clean_<field>`` must put the stored value back when this is empty.
    """

    widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("strip", False)
        super().__init__(**kwargs)

    def has_changed(self, initial, data):
        # Empty means "keep": only a typed value is a change (and the change
        # message names the field, never the value).
        return bool(data)
