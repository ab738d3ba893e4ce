@area-Q
Feature: The sender pulls read receipts
  Spec area Q of docs/spec/receipts-spec.md. Seed documentation, 发送端主动拉取消息已读回执信息: the
  sender, coming back to a conversation, loads history and then calls getMessageReadReceipts for a
  batch of its own messages, getting one V2TimMessageReceipt per message: groupID, readCount and
  unreadCount for a group message; userID, isPeerRead and timestamp for a one-to-one message.

  @RR-Q-001 @spec-Q-1 @doc-sender-pulls
  Scenario Outline: The sender loads history, then pulls one receipt per message in one call
    Given Alice and Bob are in a <conversation>
    And Alice has sent messages "one", "two" and "three" that need read receipts
    And Bob has sent a read receipt for "two"
    When Alice loads the chat history
    Then every message in Alice's history is marked as needing a read receipt
    When Alice pulls the read receipts of the messages in her history
    Then she gets one receipt per message, in the order she asked
    And the receipts say that Bob has read "two" but not "one" or "three"

    Examples:
      | conversation    |
      | one-to-one chat |
      | group chat      |

  @RR-Q-002 @spec-Q-2 @doc-sender-pulls
  Scenario: A group receipt names the group and counts readers and non-readers of all recipients
    Given Alice, Bob, Carol, Dave and Erin are in a Work group
    And Alice has sent a message that needs a read receipt
    And Bob and Carol have sent a read receipt for the message
    When Alice pulls the read receipts of the message
    Then the receipt names the group and the message
    And it says 2 members have read the message and 2 have not

  @RR-Q-003 @spec-Q-2 @doc-sender-pulls
  Scenario: A one-to-one receipt names the peer and tells whether and when it read the message
    Given Alice and Bob are in a one-to-one chat
    And Alice has sent a message that needs a read receipt
    When Alice pulls the read receipts of the message
    Then the receipt names Bob as the peer and says he has not read the message, with no time
    When Bob sends a read receipt for the message
    And Alice pulls the read receipts of the message
    Then the receipt names Bob as the peer and says he read the message, no earlier than it was sent

  @RR-Q-004 @spec-Q-3 @spec-X-2 @doc-sender-pulls
  Scenario Outline: Pulling receipts of a message one did not send fails like an unknown message
    Given Alice and Bob are in a <conversation>
    And Alice has sent a message that needs a read receipt
    When Bob tries to pull the read receipts of the message
    Then the call fails with code 6017
    And the answer has the same code as for a message that does not exist (strict: and the same description)

    Examples:
      | conversation    |
      | one-to-one chat |
      | group chat      |

  @RR-Q-005 @spec-Q-3 @doc-sender-pulls
  Scenario: Pulling receipts of messages from two conversations fails
    Given Alice, Bob and Carol are in a Work group
    And Alice has sent a message "to the team" that needs a read receipt
    And Alice has sent Bob a message "just for Bob" that needs a read receipt in a one-to-one chat of their own
    When Alice tries to pull the read receipts of "to the team" and "just for Bob"
    Then the call fails with code 6017

  @RR-Q-006 @spec-Q-3 @spec-R-2 @doc-sender-pulls
  Scenario Outline: Pulls follow the batch limits of receipts
    Given Alice and Bob are in a <conversation>
    And Alice has sent as many messages as the receipt batch limit, each needing a read receipt
    When Alice pulls the read receipts of all of them
    Then she gets one receipt per message, in the order she asked
    When Alice sends one more message that needs a read receipt
    And Alice tries to pull the read receipts of all of them
    Then the call fails with code 6017
    When Alice tries to pull the read receipts of no messages
    Then the call fails with code 6017

    Examples:
      | conversation    |
      | one-to-one chat |
      | group chat      |

  @RR-Q-007 @spec-Q-4 @spec-P-2 @doc-sender-pulls
  Scenario: A pull right after a notification agrees with it
    Given Alice, Bob, Carol and Dave are in a Work group
    And Alice is online
    And Alice has sent a message that needs a read receipt
    When Bob sends a read receipt for the message
    Then Alice is notified that 1 member has read the message and 2 have not
    And a pull of the message's receipts agrees with Alice's latest notification
    When Carol sends a read receipt for the message
    Then Alice is notified that 2 members have read the message and 1 has not
    And a pull of the message's receipts agrees with Alice's latest notification

  @RR-Q-008 @spec-Q-4 @spec-P-2 @doc-sender-pulls
  Scenario: A one-to-one pull right after a notification agrees with it
    Given Alice and Bob are in a one-to-one chat
    And Alice is online
    And Alice has sent a message that needs a read receipt
    When Bob sends a read receipt for the message
    Then Alice is notified that Bob has read the message
    And a pull of the message's receipts agrees with Alice's latest notification

  @RR-Q-009 @spec-Q-1 @spec-S-3 @doc-sender-pulls @latitude
  Scenario Outline: Messages sent without the flag are left out of a pull, or the pull is refused
    Given Alice and Bob are in a <conversation>
    And Alice has sent a plain message "plain"
    And Alice has sent a message "needs a receipt" that needs a read receipt
    When Alice tries to pull the read receipts of "plain" and "needs a receipt"
    Then she gets receipts for "needs a receipt" only, or the whole pull is refused (strict: the receipts)

    Examples:
      | conversation    |
      | one-to-one chat |
      | group chat      |

  @RR-Q-010 @spec-Q-1 @doc-sender-pulls @latitude
  Scenario: A message named twice in a pull gets one receipt, or the pull is refused
    Given Alice and Bob are in a group chat
    And Alice has sent messages "one" and "two" that need read receipts
    When Alice tries to pull the read receipts of "one", "two" and "one"
    Then she gets receipts for "one" and "two", in that order, or the whole pull is refused (strict: the receipts)
