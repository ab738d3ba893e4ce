@area-A
Feature: Application settings: the edition, group types and group size
  Spec area A of docs/spec/receipts-spec.md. Seed documentation, 功能描述: read receipts are a
  feature of the paid edition; and 设置支持已读回执的群类型: group receipts work only for the group
  types switched on in the console (Work, Public and Meeting can be; Community and AVChatRoom
  never), in groups of at most groupReceiptMaxMembers members. One-to-one chats need no switch.

  @RR-A-001 @spec-A-1 @doc-feature-description @needs-adminSettings @serial
  Scenario Outline: Without the receipts edition a message cannot ask for a read receipt
    Given Alice and Bob are in a <conversation>
    And Bob is online
    And the application is on the standard edition
    When Alice tries to send a message that needs a read receipt
    Then the call fails with code 7013
    And Bob is not sent any message
    And Bob has no messages in the chat

    Examples:
      | conversation    |
      | one-to-one chat |
      | group chat      |

  @RR-A-002 @spec-A-1 @doc-feature-description @needs-adminSettings @serial
  Scenario Outline: Without the receipts edition receipts can be neither sent nor pulled
    Given Alice and Bob are in a <conversation>
    And Alice has sent a message that needs a read receipt
    And the application is on the standard edition
    When Bob tries to send a read receipt for the message
    Then the call fails with code 7013
    When Alice tries to pull the read receipts of the message
    Then the call fails with code 7013

    Examples:
      | conversation    |
      | one-to-one chat |
      | group chat      |

  @RR-A-003 @spec-A-1 @doc-feature-description @needs-adminSettings @serial
  Scenario Outline: Without the receipts edition the read and unread member lists cannot be pulled
    Given Alice, Bob and Carol are in a Work group
    And Alice has sent a message that needs a read receipt
    And the application is on the standard edition
    When Alice tries to list the members who <list> the message
    Then the call fails with code 7013

    Examples:
      | list          |
      | have read     |
      | have not read |

  @RR-A-004 @spec-A-1 @doc-feature-description @needs-adminSettings @serial
  Scenario Outline: Without the receipts edition plain messages still work
    Given Alice and Bob are in a <conversation>
    And Bob is online
    And the application is on the standard edition
    When Alice sends a plain message
    Then Bob receives the message, marked as not needing a read receipt
    And in Bob's history the message does not need a read receipt

    Examples:
      | conversation    |
      | one-to-one chat |
      | group chat      |

  @RR-A-005 @spec-A-2 @doc-group-types @needs-group-types
  Scenario Outline: Work, Public and Meeting groups support read receipts by default
    Given Alice, Bob and Carol are in a <group type> group
    When Alice sends a message that needs a read receipt
    And Bob sends a read receipt for the message
    Then Alice sees that 1 member has read the message and 1 has not

    Examples:
      | group type |
      | Work       |
      | Public     |
      | Meeting    |

  @RR-A-006 @spec-A-2 @spec-A-3 @doc-group-types @needs-group-types
  Scenario Outline: Community and AVChatRoom groups refuse messages that need a read receipt
    Given Alice, Bob and Carol are in a <group type> group
    And Bob is online
    When Alice tries to send a message that needs a read receipt
    Then the call fails with code 90101
    And Bob is not sent any message
    And Bob has no messages in the chat

    Examples:
      | group type |
      | Community  |
      | AVChatRoom |

  @RR-A-007 @spec-A-2 @spec-A-3 @doc-group-types @needs-adminSettings @serial
  Scenario Outline: Community and AVChatRoom never support read receipts, even when switched on
    Given read receipts are enabled for Work, Community and AVChatRoom groups
    And Alice, Bob and Carol are in a <group type> group
    When Alice tries to send a message that needs a read receipt
    Then the call fails with code 90101
    And Bob has no messages in the chat

    Examples:
      | group type |
      | Community  |
      | AVChatRoom |

  @RR-A-008 @spec-A-2 @spec-A-3 @doc-group-types @needs-adminSettings @serial
  Scenario: A group type switched off refuses read receipts but still carries plain messages
    Given read receipts are enabled only for Work and Meeting groups
    And Alice, Bob and Carol are in a Public group
    And Bob is online
    When Alice tries to send a message that needs a read receipt
    Then the call fails with code 90101
    And Bob is not sent any message
    When Alice sends a plain message
    Then Bob receives the message, marked as not needing a read receipt

  @RR-A-009 @spec-A-2 @doc-group-types @needs-adminSettings @serial
  Scenario: One-to-one receipts need no group type switch
    Given no group type has read receipts enabled
    And Alice and Bob are in a one-to-one chat
    When Alice sends a message that needs a read receipt
    And Bob sends a read receipt for the message
    Then Alice sees that Bob has read the message

  @RR-A-010 @spec-A-4 @doc-group-types
  Scenario: A group exactly as large as the receipt member limit supports read receipts
    Given Alice owns a Work group exactly as large as the receipt member limit
    When Alice sends a message that needs a read receipt
    Then Alice sees that nobody has read the message and every other member has not

  @RR-A-011 @spec-A-4 @doc-group-types
  Scenario: A group one member over the receipt member limit refuses read receipts
    Given Alice owns a Work group one member larger than the receipt member limit
    When Alice tries to send a message that needs a read receipt
    Then the call fails with code 90102
    When Alice sends a plain message
    Then the call succeeds

  @RR-A-012 @spec-A-4 @doc-group-types @needs-adminSettings @serial
  Scenario: The receipt member limit follows the setting
    Given the receipt member limit is 3
    And Alice, Bob and Carol are in a Work group
    And Dave, Erin, Frank and Grace are in a Work group
    When Alice sends a message that needs a read receipt
    Then the call succeeds
    When Dave tries to send a message that needs a read receipt
    Then the call fails with code 90102
    And Erin has no messages in the chat
