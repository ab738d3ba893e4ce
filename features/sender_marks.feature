@area-S
Feature: The sender marks a message as needing a read receipt
  Spec area S of docs/spec/receipts-spec.md. Seed documentation, 发送端设置消息需要已读回执: the
  sender sets needReadReceipt on the message (text or custom, one-to-one or group) before sending
  it; the flag travels with the message to its recipients and into history. A message without the
  flag never gets receipts. The seed's own example sends an onlineUserOnly message that needs a
  read receipt.

  @RR-S-001 @spec-S-1 @doc-sender-marks
  Scenario Outline: The read receipt flag shows on the sent, the delivered and the stored message
    Given Alice and Bob are in a <conversation>
    And Bob is online
    When Alice sends a message that needs a read receipt
    Then the message Alice gets back needs a read receipt
    And Bob receives the message, marked as needing a read receipt
    And in Bob's history the message needs a read receipt
    And in Alice's history the message needs a read receipt

    Examples:
      | conversation    |
      | one-to-one chat |
      | group chat      |

  @RR-S-002 @spec-S-1 @doc-sender-marks
  Scenario Outline: A message needs no read receipt unless its sender asks for one
    Given Alice and Bob are in a <conversation>
    And Bob is online
    When Alice sends a plain message
    Then the message Alice gets back does not need a read receipt
    And Bob receives the message, marked as not needing a read receipt
    And in Bob's history the message does not need a read receipt

    Examples:
      | conversation    |
      | one-to-one chat |
      | group chat      |

  @RR-S-003 @spec-S-2 @spec-S-1 @doc-sender-marks
  Scenario Outline: Text and custom messages can both ask for a read receipt
    Given Alice and Bob are in a <conversation>
    And Bob is online
    When Alice sends a <kind> message that needs a read receipt
    Then the message Alice gets back needs a read receipt
    And Bob receives the message, marked as needing a read receipt
    And Bob receives the message content exactly as Alice sent it
    When Bob sends a read receipt for the message
    Then Alice sees that Bob has read the message

    Examples:
      | kind   | conversation    |
      | text   | one-to-one chat |
      | text   | group chat      |
      | custom | one-to-one chat |
      | custom | group chat      |

  @RR-S-004 @spec-S-3 @spec-R-4 @doc-sender-marks @latitude
  Scenario Outline: Read receipts for a message that did not ask for them are ignored
    Given Alice and Bob are in a <conversation>
    And Alice is online
    And Alice has sent a plain message
    When Bob sends a read receipt for the message
    Then the call succeeds
    And Alice is not notified of any read receipt
    And pulling the read receipts of the message gives Alice no receipt information, or is refused (strict: an empty answer)

    Examples:
      | conversation    |
      | one-to-one chat |
      | group chat      |

  @RR-S-005 @spec-S-3 @spec-L-2 @doc-sender-marks
  Scenario Outline: A group message that did not ask for receipts has no member lists
    Given Alice, Bob and Carol are in a Work group
    And Alice has sent a plain message
    And Bob has sent a read receipt for the message
    When Alice tries to list the members who <list> the message
    Then the call fails with code 10062

    Examples:
      | list          |
      | have read     |
      | have not read |

  @RR-S-006 @spec-S-4 @doc-sender-marks @needs-onlineUserOnly @optional
  Scenario: An online-only group message that needs a read receipt counts only the members online
    Given Alice, Bob, Carol and Dave are in a Work group
    And Bob and Carol are online
    When Alice sends an online-only message that needs a read receipt
    Then Bob receives the message, marked as needing a read receipt
    And the message is not in Dave's history
    And Alice sees that 0 members have read the message and 2 have not
    And the members who have not read the message are Bob and Carol
    When Bob sends a read receipt for the message
    Then Alice sees that 1 member has read the message and 1 has not
    And the members who have read the message are Bob

  @RR-S-007 @spec-S-4 @doc-sender-marks @needs-onlineUserOnly @optional
  Scenario Outline: An online-only message is not stored and raises no unread count
    Given Alice and Bob are in a <conversation>
    And Alice and Bob are online
    When Alice sends an online-only message that needs a read receipt
    Then Bob receives the message, marked as needing a read receipt
    And the message is not in Bob's history
    And Bob has 0 unread messages in the chat
    When Bob sends a read receipt for the message
    Then Alice is notified that the message has been read
    And Alice sees that Bob has read the message

    Examples:
      | conversation    |
      | one-to-one chat |
      | group chat      |
