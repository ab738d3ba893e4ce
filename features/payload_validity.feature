@area-V
Feature: Every payload validates against its published schema
  Spec area V of docs/spec/receipts-spec.md and the schema table of docs/protocol.md: every
  response (the envelope, and the data of each method) and every pushed event validates against
  the JSON Schema published for its type. The suite checks every payload of every scenario; these
  scenarios make sure each payload and event type is produced at least once and say so.

  @RR-V-001 @spec-V-1 @doc-protocol @needs-raw-wire
  Scenario: Discovery and administration payloads validate
    Given Alice is a user
    When the administrator reads the capabilities and the application settings
    And the administrator creates a Work group with Alice and a new member
    And the administrator adds and removes a member of that group
    Then no payload broke its schema during the scenario

  @RR-V-002 @spec-V-1 @spec-S-1 @spec-S-2 @doc-protocol
  Scenario Outline: Message payloads validate: sent, delivered, in history and in the conversation list
    Given Alice and Bob are in a <conversation>
    And Bob is online
    When Alice sends a text message that needs a read receipt
    And Alice sends a custom message that needs a read receipt
    And Alice sends a plain message
    Then Bob receives the message, marked as not needing a read receipt
    When Bob loads the chat history
    And Bob looks at his conversation list
    Then no payload broke its schema during the scenario

    Examples:
      | conversation    |
      | one-to-one chat |
      | group chat      |

  @RR-V-003 @spec-V-1 @spec-P-2 @spec-Q-2 @doc-protocol
  Scenario Outline: Receipt payloads validate: pushed and pulled, one-to-one and group
    Given Alice and Bob are in a <conversation>
    And Alice is online
    And Alice has sent a message that needs a read receipt
    When Bob sends a read receipt for the message
    Then Alice is notified that the message has been read
    When Alice pulls the read receipts of the message
    Then no payload broke its schema during the scenario

    Examples:
      | conversation    |
      | one-to-one chat |
      | group chat      |

  @RR-V-004 @spec-V-1 @spec-L-1 @doc-protocol
  Scenario: Member list pages validate, full and empty
    Given Alice, Bob and Carol are in a Work group
    And Alice has sent a message that needs a read receipt
    When Alice lists the members who have read the message
    And Bob sends a read receipt for the message
    And Alice lists the members who have read the message
    And Alice lists the members who have not read the message
    Then no payload broke its schema during the scenario

  @RR-V-005 @spec-V-1 @spec-C-1 @doc-protocol
  Scenario: Conversation read mark payloads validate
    Given Alice and Bob are in a one-to-one chat
    And Alice is online
    And Alice has sent a plain message
    When Bob marks the chat as read
    Then Alice is notified that Bob marked the chat as read, no earlier than her last message
    When Alice loads the chat history
    Then no payload broke its schema during the scenario

  @RR-V-006 @spec-V-1 @spec-E-1 @doc-protocol @needs-raw-wire
  Scenario: Error envelopes validate
    Given Alice, Bob and Carol are in a Work group
    And Alice has sent a plain message
    When Bob tries to send read receipts for no messages
    And Bob tries to load the history of a group that does not exist
    And Alice tries to list the members who have read the message
    And Bob posts a body that is not JSON as his read receipts
    Then no payload broke its schema during the scenario
