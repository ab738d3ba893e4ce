@area-M
Feature: Group membership over time
  Spec area M of docs/spec/receipts-spec.md, a DECISION of the spec (the SDK documentation is
  silent): the recipients of a group message are fixed when it is sent. Members who join later
  are not counted; members who leave later keep their place in the read or unread list.

  @RR-M-001 @spec-M-1 @doc-protocol
  Scenario: Members who join after a message do not raise its unread count
    Given Alice, Bob and Carol are in a Work group
    And Alice has sent a message that needs a read receipt
    When Dave and Erin join the group
    Then Alice sees that 0 members have read the message and 2 have not
    And the members who have not read the message are Bob and Carol

  @RR-M-002 @spec-M-1 @doc-protocol
  Scenario: Members who leave after a message do not lower its unread count
    Given Alice, Bob, Carol and Dave are in a Work group
    And Alice has sent a message that needs a read receipt
    When Carol and Dave leave the group
    Then Alice sees that 0 members have read the message and 3 have not

  @RR-M-003 @spec-M-2 @doc-protocol
  Scenario: A member who left keeps its place in the unread list
    Given Alice, Bob, Carol and Dave are in a Work group
    And Alice has sent a message that needs a read receipt
    And Alice has noted the members who have not read the message
    When Carol leaves the group
    Then the members who have not read the message are the same as before, in the same order

  @RR-M-004 @spec-M-2 @doc-protocol
  Scenario: A member who read and then left keeps its place in the read list
    Given Alice, Bob, Carol and Dave are in a Work group
    And Alice has sent a message that needs a read receipt
    And Bob and Carol have sent a read receipt for the message
    When Bob leaves the group
    Then the members who have read the message are Bob and Carol, in that order
    And Alice sees that 2 members have read the message and 1 has not

  @RR-M-005 @spec-M-1 @doc-protocol
  Scenario: A message sent after a member joined counts the newcomer
    Given Alice, Bob and Carol are in a Work group
    And Alice has sent a message "before Dave" that needs a read receipt
    When Dave joins the group
    And Alice sends a message "after Dave" that needs a read receipt
    Then Alice sees that 0 members have read "before Dave" and 2 have not
    And Alice sees that 0 members have read "after Dave" and 3 have not
    When Dave sends read receipts for "before Dave" and "after Dave"
    Then Alice sees that 0 members have read "before Dave" and 2 have not
    And Alice sees that 1 member has read "after Dave" and 2 have not

  @RR-M-006 @spec-M-1 @spec-R-7 @doc-protocol
  Scenario: A member who left and came back is still a recipient of what was sent before
    Given Alice, Bob and Carol are in a Work group
    And Alice is online
    And Alice has sent a message that needs a read receipt
    And Carol leaves the group
    When Carol joins the group again
    And Carol sends a read receipt for the message
    Then Alice is notified that 1 member has read the message and 1 has not

  @RR-M-007 @spec-M-1 @spec-A-2 @doc-protocol @needs-adminSettings @serial
  Scenario: Switching a group type off later does not change messages already sent
    Given Alice, Bob and Carol are in a Public group
    And Alice has sent a message that needs a read receipt
    When read receipts are enabled only for Work and Meeting groups
    And Bob sends a read receipt for the message
    Then Alice sees that 1 member has read the message and 1 has not

  @RR-M-008 @spec-M-1 @spec-M-2 @doc-protocol @latitude
  Scenario: An admin call naming a member already in, a user not in or a member twice skips or is refused
    Given Alice, Bob and Carol are in a Work group
    When the administrator tries to add Bob, already a member, and Dave to the group
    Then the call adds Dave and skips Bob, or is refused and changes nothing (strict: skips Bob)
    When the administrator tries to remove Carol and Erin, who is not a member, from the group
    Then the call removes Carol and skips Erin, or is refused and changes nothing (strict: skips Erin)
    When the administrator tries to create a group owned by Alice whose member list names Bob twice and the owner
    Then the group has Alice and Bob as its only members, or the call is refused and creates nothing (strict: each counted once)
