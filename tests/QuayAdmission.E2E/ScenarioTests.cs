using QuayAdmission.E2E.Harness;
using QuayAdmission.E2E.Scenarios;
using Xunit.Abstractions;

namespace QuayAdmission.E2E;

/// <summary>
/// One test per scenario, each passing, failing or skipping with it; the scenarios themselves run in
/// <see cref="E2ERun"/> (several at once). Their measured figures go to figures.txt, which `make e2e` prints.
/// </summary>
[Collection(E2ERunDefinition.Name)]
public sealed class ScenarioTests(E2ERun run, ITestOutputHelper output)
{
    [SkippableFact]
    public Task Admission_through_a_url_webhook_patches_pods_and_a_server_dry_run_writes_nothing() => AssertAsync<AdmissionScenario>();

    [SkippableFact]
    public Task Failover_after_sigkill_and_sigterm_of_the_lease_holder() => AssertAsync<FailoverScenario>();

    [SkippableFact]
    public Task Secrets_are_renewed_in_place_once_per_half_life_by_one_replica_and_come_back_when_deleted() => AssertAsync<RenewalScenario>();

    [SkippableFact]
    public Task Pods_on_the_real_node_pull_with_the_token_run_once_trusted_and_keep_pulling_across_expiries() => AssertAsync<NodeScenario>();

    [SkippableFact]
    public Task The_processes_survive_a_30_second_api_cut_and_recover_by_themselves() => AssertAsync<ApiCutScenario>();

    [SkippableFact]
    public Task The_token_policy_limits_the_webhook_identity_and_no_one_else() => AssertAsync<TokenPolicyScenario>();

    private Task AssertAsync<TScenario>() where TScenario : IScenario => run.AssertAsync(E2ERun.All.OfType<TScenario>().Single(), output);
}
