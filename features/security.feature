@area-X
Feature: Security: credentials and conversations one is not part of
  Spec area X of docs/spec/receipts-spec.md and docs/protocol.md sections 1 and 4: every user call
  needs that user's own credential and acts as that user only; the administrator's key opens
  settings, users and groups, and nothing else. No user learns anything about a conversation it is
  not part of: such requests fail exactly as they would for something that does not exist.

  @RR-X-001 @spec-X-1 @spec-E-2 @doc-protocol @needs-raw-wire
  Scenario Outline: A user method refuses a missing or unknown credential
    Given Alice is a user
    When someone asks for a conversation list <credential>
    Then the call fails with code 90001 (strict: HTTP status 401)

    Examples:
      | credential                            |
      | without any credential                |
      | with a token the service never issued |

  @RR-X-002 @spec-X-1 @spec-E-2 @doc-protocol @needs-raw-wire
  Scenario: The administrator's key does not open user methods, nor a user's token admin methods
    Given Alice is a user
    When someone asks for a conversation list with the administrator's key
    Then the call fails with code 90002 (strict: HTTP status 403)
    When Alice tries to read the application settings with her own token
    Then the call fails with code 90002 (strict: HTTP status 403)

  @RR-X-003 @spec-X-1 @doc-protocol @needs-raw-wire
  Scenario: A user cannot send read receipts on behalf of another
    Given Alice, Bob and Carol are in a Work group
    And Alice is online
    And Alice has sent a message that needs a read receipt
    When Bob sends a read receipt for the message naming Carol as the reader
    Then the call either ignores the unknown field or fails (strict: fails with code 6017)
    And Carol is not among the members who have read the message
    And the message counts Bob's receipt exactly when the call succeeded

  @RR-X-004 @spec-X-1 @doc-protocol @needs-raw-wire
  Scenario: A user cannot send a message on behalf of another
    Given Alice and Bob are in a one-to-one chat
    And Mallory is another user
    And Bob is online
    When Mallory sends Bob a message naming Alice as its sender
    Then the call either ignores the unknown field or fails (strict: fails with code 6017)
    And Bob has no messages in the chat
    And if the message was sent, Bob received it from Mallory

  @RR-X-005 @spec-X-2 @doc-protocol
  Scenario Outline: An outsider's requests about a group fail exactly like requests about an unknown one
    Given Alice, Bob and Carol are in a Work group
    And Alice has sent a message that needs a read receipt
    And Mallory is another user
    When Mallory tries to <request>
    Then the call fails with code <code>
    And the answer is the same as for <unknown thing>

    Examples:
      | request                                        | code  | unknown thing                 |
      | load the history of the group                  | 10010 | a group that does not exist   |
      | send a message to the group                    | 10010 | a group that does not exist   |
      | send a read receipt for the message            | 6017  | a message that does not exist |
      | pull the read receipts of the message          | 6017  | a message that does not exist |
      | list the members who have read the message     | 6017  | a message that does not exist |
      | list the members who have not read the message | 6017  | a message that does not exist |

  @RR-X-006 @spec-X-2 @doc-protocol
  Scenario Outline: An outsider's requests about a one-to-one chat fail exactly like requests about an unknown message
    Given Alice and Bob are in a one-to-one chat
    And Alice has sent a message that needs a read receipt
    And Mallory is another user
    When Mallory tries to <request>
    Then the call fails with code 6017
    And the answer is the same as for a message that does not exist

    Examples:
      | request                                   |
      | send a read receipt for the message       |
      | pull the read receipts of the message     |
      | page her chat with Alice from the message |

  @RR-X-007 @spec-X-2 @spec-R-7 @doc-protocol
  Scenario: A member who left loses sight of the group
    Given Alice, Bob and Carol are in a Work group
    And Alice has sent a message that needs a read receipt
    And Carol leaves the group
    When Carol tries to load the history of the group
    Then the call fails with code 10010
    And the answer is the same as for a group that does not exist

  @RR-X-008 @spec-X-2 @spec-P-4 @doc-protocol
  Scenario: An outsider hears nothing and sees nothing of other people's chats
    Given Alice, Bob and Carol are in a Work group
    And Mallory is another user
    And Mallory is online
    When Alice sends a message that needs a read receipt
    And Bob sends a read receipt for the message
    And Alice sends Bob a message "direct" that needs a read receipt in a one-to-one chat of their own
    And Bob sends a read receipt for "direct"
    And Bob marks his chat with Alice as read
    Then Mallory is not sent anything
    And Mallory's conversation list is empty
