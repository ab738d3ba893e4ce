@area-P
Feature: The sender is notified of read receipts
  Spec area P of docs/spec/receipts-spec.md. Seed documentation, 发送端监听消息已读回执通知: after a
  recipient sends read receipts, the sender's onRecvMessageReadReceipts listener is called with
  the latest counts, so the UI can show "2 人已读". Every connection the sender has open is told;
  nobody else is.

  @RR-P-001 @spec-P-1 @spec-P-2 @doc-sender-listens
  Scenario: The sender of a group message is told the latest counts after each receipt
    Given Alice, Bob, Carol and Dave are in a Work group
    And Alice is online
    And Alice has sent a message that needs a read receipt
    When Bob sends a read receipt for the message
    Then Alice is notified that 1 member has read the message and 2 have not
    When Carol sends a read receipt for the message
    Then Alice is notified that 2 members have read the message and 1 has not
    When Dave sends a read receipt for the message
    Then Alice is notified that 3 members have read the message and 0 have not

  @RR-P-002 @spec-P-1 @spec-P-2 @doc-sender-listens
  Scenario: The sender of a one-to-one message is told who read it and when
    Given Alice and Bob are in a one-to-one chat
    And Alice is online
    And Alice has sent a message that needs a read receipt
    When Bob sends a read receipt for the message
    Then Alice is notified that Bob has read the message
    And the notification carries the time of Bob's receipt, no earlier than the message

  @RR-P-003 @spec-P-1 @doc-sender-listens
  Scenario Outline: Every connection of the sender is notified
    Given Alice and Bob are in a <conversation>
    And Alice is online on two devices
    And Alice has sent a message that needs a read receipt
    When Bob sends a read receipt for the message
    Then each of Alice's devices is notified that the message has been read

    Examples:
      | conversation    |
      | one-to-one chat |
      | group chat      |

  @RR-P-004 @spec-P-1 @spec-R-5 @doc-sender-listens
  Scenario Outline: One notification per call, holding one receipt per newly read message
    Given Alice and Bob are in a <conversation>
    And Alice is online
    And Alice has sent messages "one", "two" and "three" that need read receipts
    And Bob has sent a read receipt for "one"
    And Alice has been notified of read receipts for "one" only
    When Bob sends read receipts for "one", "two" and "three"
    Then Alice is notified of read receipts for "two" and "three" only
    And Alice is not notified again

    Examples:
      | conversation    |
      | one-to-one chat |
      | group chat      |

  @RR-P-005 @spec-P-1 @spec-P-4 @doc-sender-listens
  Scenario: A batch covering two senders' messages tells each sender about its own only
    Given Alice, Bob and Carol are in a Work group
    And Alice and Carol are online
    And Alice has sent a message "from Alice" that needs a read receipt
    And Carol has sent a message "from Carol" that needs a read receipt
    When Bob sends read receipts for "from Alice" and "from Carol"
    Then Alice is notified of read receipts for "from Alice" only
    And Carol is notified of read receipts for "from Carol" only

  @RR-P-006 @spec-P-3 @doc-sender-listens
  Scenario: Twelve members read at once: the final count is twelve and counts never go backwards
    Given Alice owns a Work group with 12 other members
    And Alice is online
    And Alice has sent a message that needs a read receipt
    When all 12 other members send a read receipt for the message at the same time
    Then Alice is notified that 12 members have read the message and 0 have not
    And the read counts Alice was notified of never went backwards
    And Alice sees that 12 members have read the message and 0 have not

  @RR-P-007 @spec-P-3 @doc-sender-listens
  Scenario: Members reading one after another produce rising counts
    Given Alice owns a Work group with 5 other members
    And Alice is online
    And Alice has sent a message that needs a read receipt
    When each of the 5 other members sends a read receipt for the message in turn
    Then Alice is notified that 5 members have read the message and 0 have not
    And the read counts Alice was notified of were 1, 2, 3, 4 and 5

  @RR-P-008 @spec-P-4 @doc-sender-listens
  Scenario: Other group members are not told about receipts on someone else's message
    Given Alice, Bob, Carol and Dave are in a Work group
    And Alice, Bob, Carol and Dave are online
    And Alice has sent a message that needs a read receipt
    When Bob sends a read receipt for the message
    Then Alice is notified that 1 member has read the message and 2 have not
    And Bob is not notified of any read receipt
    And Carol is not notified of any read receipt
    And Dave is not notified of any read receipt

  @RR-P-009 @spec-P-4 @doc-sender-listens
  Scenario: Only the sender of a one-to-one message is told about its receipt
    Given Alice and Bob are in a one-to-one chat
    And Carol is another user
    And Alice, Bob and Carol are online
    And Alice has sent a message that needs a read receipt
    When Bob sends a read receipt for the message
    Then Alice is notified that Bob has read the message
    And Bob is not notified of any read receipt
    And Carol is not notified of any read receipt

  @RR-P-011 @spec-P-1 @spec-R-3 @doc-sender-listens
  Scenario: A refused batch of receipts pushes nothing to the sender, and the pull shows nothing read
    Given Alice, Bob and Carol are in a Work group
    And Alice is online
    And Alice has sent 2 messages that need read receipts
    When Bob tries to send read receipts for all of them and a message that does not exist
    Then the call fails with code 6017
    And Alice is not notified of any read receipt
    And Alice sees that 0 members have read each of them and 2 have not

  @RR-P-010 @spec-P-3 @doc-sender-listens
  Scenario: Many members reading many messages at once leave every count exact
    Given Alice owns a Work group with 24 other members
    And Alice has sent 5 messages that need read receipts
    When all 24 other members send read receipts for each of them at the same time, one call per message
    Then Alice sees that 24 members have read each of them and 0 have not
