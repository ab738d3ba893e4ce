"""Steps that set the scene: users, chats, group membership, settings and who is online."""

from __future__ import annotations

from seenby.steps.phrases import given, when
from seenby.steps.world import World

# -- users and chats ------------------------------------------------------------------------


@given("{names:names} are in a {conversation:conversation}")
def users_in_a_chat(world: World, names: list[str], conversation: str) -> None:
    world.start_chat(conversation, names)


@given("{owner:name} owns a {group_type:group_type} group with {count:int} other members")
def group_with_anonymous_members(world: World, owner: str, group_type: str, count: int) -> None:
    world.start_group(group_type, [owner, *(f"Member {i}" for i in range(1, count + 1))])


@given("{owner:name} owns a Work group exactly as large as the receipt member limit")
def group_at_member_limit(world: World, owner: str) -> None:
    others = world.limit("groupReceiptMaxMembers") - 1
    group_with_anonymous_members(world, owner, "Work", others)


@given("{owner:name} owns a Work group one member larger than the receipt member limit")
def group_over_member_limit(world: World, owner: str) -> None:
    others = world.limit("groupReceiptMaxMembers")
    group_with_anonymous_members(world, owner, "Work", others)


@given("{name:name} is a user")
@given("{name:name} is another user")
def a_user(world: World, name: str) -> None:
    world.user(name)


@given("{name:name} is a user with the profile picture {url:label}")
def a_user_with_a_picture(world: World, name: str, url: str) -> None:
    world.add_user(name, face_url=url)


# -- group membership -----------------------------------------------------------------------


@given("{names:names} joins the group")
@when("{names:names} joins the group")
@when("{names:names} join the group")
@when("{names:names} joins the group again")
def join_the_group(world: World, names: list[str]) -> None:
    world.join(names)


@given("{names:names} leaves the group")
@when("{names:names} leaves the group")
@when("{names:names} leave the group")
def leave_the_group(world: World, names: list[str]) -> None:
    world.leave(names)


# -- settings (the scenario restores them when it ends) ---------------------------------------


@given("the application is on the standard edition")
def standard_edition(world: World) -> None:
    world.change_settings(edition="standard")


@given("read receipts are enabled for {types:group_types} groups")
@given("read receipts are enabled only for {types:group_types} groups")
@when("read receipts are enabled only for {types:group_types} groups")
def receipt_group_types(world: World, types: list[str]) -> None:
    world.change_settings(group_receipt_types=types)


@given("no group type has read receipts enabled")
def no_receipt_group_types(world: World) -> None:
    world.change_settings(group_receipt_types=[])


@given("the receipt member limit is {limit:int}")
def receipt_member_limit(world: World, limit: int) -> None:
    world.change_settings(group_receipt_max_members=limit)


@given("the receipt batch limit is {limit:int}")
def receipt_batch_limit(world: World, limit: int) -> None:
    world.change_settings(receipt_batch_max=limit)


# -- who is online --------------------------------------------------------------------------


@given("{names:names} is online")
@given("{names:names} are online")
def online(world: World, names: list[str]) -> None:
    for name in names:
        world.go_online(name)


@given("{name:name} is online on two devices")
def online_twice(world: World, name: str) -> None:
    world.go_online(name, devices=2)


@given("{name:name} goes offline")
def offline(world: World, name: str) -> None:
    world.go_offline(name)


@when("{name:name} comes back online from the last event she saw")
def back_online(world: World, name: str) -> None:
    world.come_online(name, since=world.seq_when_offline[name])


@when("{name:name} comes back online from {ahead:int} events after the last one she saw")
def back_online_ahead(world: World, name: str, ahead: int) -> None:
    world.come_online(name, since=world.seq_when_offline[name] + ahead)


@when("{name:name} comes online from the very beginning")
def online_from_the_beginning(world: World, name: str) -> None:
    world.come_online(name, since=0)


@when("{name:name} tries to come online from event {since:int}")
def online_from(world: World, name: str, since: int) -> None:
    world.attempt("events", lambda: world.come_online(name, since=since))
