@area-E
Feature: Errors: a call with two errors
  Spec behaviours E-2, E-3, X-1 and X-2 of docs/spec/receipts-spec.md and docs/protocol.md
  section 1.2. Each request below has two errors, either of which alone would refuse it. The
  spec decides which one is reported only where X-2 applies (an outsider's request fails as for
  something unknown); elsewhere any refusal that changes nothing is correct, and the reference's
  precedence — transport, route, credential, JSON, body, edition, visibility, group settings,
  receipt existence — is checked at the strict level.

  @RR-E-030 @spec-E-2 @spec-E-3 @spec-X-1 @doc-protocol @needs-raw-wire
  Scenario Outline: A call with two errors is refused, for the one that comes first
    Given Alice, Bob and Carol are in a Work group
    And Alice has sent a message that needs a read receipt
    And everyone has taken note of what they can see
    When someone sends <request>
    Then the call is refused (strict: with code <code>, the error that comes first)
    And everyone still sees exactly what they noted

    Examples:
      | request                                                                 | code  |
      | a body over the size limit, from a token the service never issued       | 90005 |
      | a method that does not exist, without any credential                    | 90003 |
      | a body that is not JSON, from a token the service never issued          | 90001 |
      | a body without message IDs, with the administrator's key                | 90002 |
      | a group creation with the Work group's ID and a user who does not exist | 10004 |

  @RR-E-031 @spec-E-2 @spec-E-3 @spec-A-1 @doc-protocol @needs-adminSettings @serial
  Scenario Outline: On an edition without receipts, a call with a second error is refused, for the one that comes first
    Given Alice, Bob and Carol are in a Work group
    And Alice has sent a message that needs a read receipt
    And Mallory is another user
    And the application is on the standard edition
    And everyone has taken note of what they can see
    When someone sends <request>
    Then the call is refused (strict: with code <code>, the error that comes first)
    And everyone still sees exactly what they noted

    Examples:
      | request                                                     | code |
      | Bob's receipt without message IDs, on the standard edition  | 6017 |
      | Bob's receipt for no messages, on the standard edition      | 6017 |
      | Alice's member list of page size 0, on the standard edition | 6017 |
      | Mallory's pull of Alice's message, on the standard edition  | 7013 |

  @RR-E-032 @spec-X-2 @spec-R-3 @spec-E-3 @doc-protocol @needs-raw-wire
  Scenario Outline: A receipt call with two invalid parts fails as the spec says and changes nothing
    Given Alice, Bob and Carol are in a Work group
    And Alice has sent a message that needs a read receipt
    And Mallory is another user
    And everyone has taken note of what they can see
    When someone sends <request>
    Then the call fails with code 6017
    And everyone still sees exactly what they noted

    Examples:
      | request                                                           |
      | Mallory's receipt for Alice's message and one that does not exist |
      | Bob's receipt for no message IDs and an unknown field             |
