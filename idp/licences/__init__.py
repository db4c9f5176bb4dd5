"""Electronic licences (电子证照) held for citizens: the type catalogue, the store,
batch loading and status changes.

Licences are keyed on their holder's ID number through its blind index
(``idp.ids.protect.blind_index``), the same key as ``Citizen.id_number_index``: a
department may load the licences of a person who has no account yet, and the citizen
sees them as soon as they register. The ID number itself is never stored here.
"""
