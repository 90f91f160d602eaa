from django import forms

from webapp.bounds import DB_INT32_MAX

from .models import Role


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.ANNOTATOR)


class MemberAccountForm(forms.Form):
    """A labmate's new account; only these fields are read (no staff flags)."""

    username = forms.CharField(max_length=150)
    email = forms.EmailField(max_length=254)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.ANNOTATOR)
    password = forms.CharField(
        max_length=128, required=False, strip=False, widget=forms.PasswordInput
    )


class LabelClassForm(forms.Form):
    name = forms.CharField(max_length=64)


class SplitForm(forms.Form):
    split_train = forms.IntegerField(min_value=0, max_value=100, label="Train %")
    split_val = forms.IntegerField(min_value=0, max_value=100, label="Validation %")
    split_test = forms.IntegerField(min_value=0, max_value=100, label="Test %")
    split_seed = forms.IntegerField(min_value=0, max_value=DB_INT32_MAX, label="Seed")
    split_by_video = forms.BooleanField(required=False, label="Keep each video in one split")
