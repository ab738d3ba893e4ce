@area-X
Feature: Security across users: former members, outsiders, recipients and the wrong credential
  Spec area X (X-1, X-2) and R-7 of docs/spec/receipts-spec.md, with docs/protocol.md sections 1.2
  and 4. The seed documentation has no section on this (tagged doc-protocol). A user who left a
  group, or was never in a chat, learns nothing about it: each request fails exactly as it would
  for a group or message that does not exist, and changes nothing anyone can see. Only a
  message's sender learns who read it. The administrator's key and a user's token each open only
  their own methods; without a known credential nothing is told and nothing is done, except the
  capabilities, which anyone may read.

  @RR-X-050 @spec-X-2 @spec-R-7 @doc-protocol
  Scenario Outline: A former member's requests about the group fail exactly like requests about something that does not exist
    Given Alice, Bob and Carol are in a Work group
    And Alice has sent a message that needs a read receipt
    And Carol leaves the group
    And everyone has taken note of what they can see
    When Carol tries to <request>
    Then the call fails with code <code>
    And the answer is the same as for <unknown thing>
    And everyone still sees exactly what they noted

    Examples:
      | request                             | code  | unknown thing                 |
      | send a read receipt for the message | 6017  | a message that does not exist |
      | send a message to the group         | 10010 | a group that does not exist   |
      | load the history of the group       | 10010 | a group that does not exist   |

  @RR-X-051 @spec-X-2 @spec-Q-3 @spec-L-2 @doc-protocol
  Scenario Outline: A member who sent a message and then left can no longer pull its receipts or member lists
    Given Alice, Bob and Carol are in a Work group
    And Carol has sent a message that needs a read receipt
    And Bob has sent a read receipt for the message
    And Carol leaves the group
    When Carol tries to <request>
    Then the call fails with code 6017
    And the answer is the same as for a message that does not exist

    Examples:
      | request                                        |
      | pull the read receipts of the message          |
      | list the members who have read the message     |
      | list the members who have not read the message |

  @RR-X-052 @spec-X-2 @doc-protocol
  Scenario Outline: An outsider's requests about a message of a chat she is not in fail exactly like requests about an unknown message
    Given Alice and Bob are in a <conversation>
    And Alice has sent a message that needs a read receipt
    And Mallory is another user
    And everyone has taken note of what they can see
    When Mallory tries to <request>
    Then the call fails with code 6017
    And the answer is the same as for a message that does not exist
    And everyone still sees exactly what they noted

    Examples:
      | conversation    | request                                        |
      | one-to-one chat | send a read receipt for the message            |
      | one-to-one chat | pull the read receipts of the message          |
      | one-to-one chat | list the members who have read the message     |
      | one-to-one chat | list the members who have not read the message |
      | group chat      | send a read receipt for the message            |
      | group chat      | pull the read receipts of the message          |
      | group chat      | list the members who have read the message     |
      | group chat      | list the members who have not read the message |

  @RR-X-053 @spec-Q-3 @spec-X-2 @doc-protocol
  Scenario Outline: Only the sender can pull a message's receipts, not the user who received and read it
    Given Alice and Bob are in a <conversation>
    And Alice has sent a message that needs a read receipt
    And Bob has sent a read receipt for the message
    When Bob tries to pull the read receipts of the message
    Then the call fails with code 6017
    And the answer has the same code as for a message that does not exist (strict: and the same description)

    Examples:
      | conversation    |
      | one-to-one chat |
      | group chat      |

  @RR-X-054 @spec-X-1 @spec-E-2 @doc-protocol @needs-raw-wire
  Scenario Outline: The administrator's key opens no user method and not the push channel
    Given Alice and Bob are in a group chat
    And Alice has sent a message that needs a read receipt
    And everyone has taken note of what they can see
    When someone tries to <request> with the administrator's key
    Then the call fails with code 90002 (strict: HTTP status 403)
    And everyone still sees exactly what they noted

    Examples:
      | request                                         |
      | send a message to the group                     |
      | load the history of the group                   |
      | list the conversations                          |
      | send a read receipt for the message             |
      | pull the read receipts of the message           |
      | list the members who have read the message      |
      | mark the chat with the message's sender as read |
      | open the push channel                           |

  @RR-X-055 @spec-X-1 @spec-E-2 @doc-protocol @needs-raw-wire
  Scenario Outline: A user's token opens no administrator method
    Given Alice, Bob and Carol are in a Work group
    And Mallory is another user
    And everyone has taken note of what they can see
    When Carol tries to <request> with her own token
    Then the call fails with code 90002 (strict: HTTP status 403)
    And everyone still sees exactly what they noted

    Examples:
      | request                                        |
      | read the application settings                  |
      | switch the application to the standard edition |
      | create a user                                  |
      | create a group                                 |
      | add Mallory to the group                       |
      | remove Bob from the group                      |

  @RR-X-056 @spec-X-1 @spec-E-2 @doc-protocol @needs-raw-wire
  Scenario Outline: Without a credential the service tells nothing and does nothing
    Given Alice and Bob are in a group chat
    And Alice has sent a message that needs a read receipt
    And everyone has taken note of what they can see
    When someone tries to <request> <credential>
    Then the call fails with code 90001 (strict: HTTP status 401)
    And everyone still sees exactly what they noted

    Examples:
      | request                               | credential                            |
      | send a read receipt for the message   | without any credential                |
      | pull the read receipts of the message | without any credential                |
      | read the application settings         | without any credential                |
      | open the push channel                 | without any credential                |
      | send a read receipt for the message   | with a token the service never issued |
      | pull the read receipts of the message | with a token the service never issued |
      | read the application settings         | with a token the service never issued |
      | open the push channel                 | with a token the service never issued |

  @RR-X-057 @spec-X-1 @doc-protocol @needs-raw-wire
  Scenario: Anyone may read the capabilities without a credential
    When someone reads the capabilities without any credential
    Then the call succeeds
    And the answer names the protocol "seenby/1"
