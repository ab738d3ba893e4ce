@area-P
Feature: Races: receipts released together, round after round
  Spec behaviours P-3 and R-5 of docs/spec/receipts-spec.md: the read count after N readers is
  N exactly, however concurrently they read, and a second receipt by the same user counts for
  nothing, even when both arrive at once. A race needs no slow server to show: in each round a
  barrier releases every call at the same moment, and rounds go on until a count is wrong or the
  bound (rounds, and three time budgets) is reached. A correct server runs every round.

  @RR-P-030 @spec-P-3 @doc-sender-listens
  Scenario: Members who read at the same moment, round after round, never lose a receipt
    Given Alice owns a Work group with 8 other members
    When the other members each read a new message of Alice's at the same moment, round after round, until a count is wrong or 20 rounds have passed
    Then every round's read count was exact

  @RR-P-031 @spec-R-5 @spec-P-3 @doc-receiver-sends
  Scenario: One member's receipt sent from several devices at the same moment, round after round, counts once
    Given Alice, Bob and Carol are in a Work group
    When Bob reads 4 new messages of Alice's, each from 6 devices at the same moment, round after round, until a count is wrong or 15 rounds have passed
    Then every round's read count was exact
