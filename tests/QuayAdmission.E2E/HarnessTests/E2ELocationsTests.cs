using QuayAdmission.E2E.Harness;

namespace QuayAdmission.E2E.HarnessTests;

/// <summary>How the harness finds the shared folder from a clone or a worktree, and says why it cannot run.</summary>
public sealed class E2ELocationsTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("e2e-locations-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Fact]
    public void The_shared_folder_is_found_beside_the_clone_or_beside_one_of_its_parents()
    {
        var shared = Scripts(Path.Combine(root, "work", "shared"));
        var clone = Directory.CreateDirectory(Path.Combine(root, "work", "main")).FullName;
        var worktree = Directory.CreateDirectory(Path.Combine(root, "work", "wt", "e2e")).FullName;

        Assert.Equal(shared, E2ELocations.FindShared(null, clone));
        Assert.Equal(shared, E2ELocations.FindShared("", worktree));
        Assert.Null(E2ELocations.FindShared(null, root));
    }

    [Fact]
    public void A_configured_folder_wins_and_must_hold_the_scripts()
    {
        Scripts(Path.Combine(root, "work", "shared"));
        var elsewhere = Scripts(Path.Combine(root, "elsewhere"));
        var clone = Directory.CreateDirectory(Path.Combine(root, "work", "main")).FullName;

        Assert.Equal(elsewhere, E2ELocations.FindShared(elsewhere, clone));
        Assert.Null(E2ELocations.FindShared(Path.Combine(root, "nothing-here"), clone));
    }

    [Fact]
    public void Without_the_binaries_the_reason_names_where_they_were_looked_for()
    {
        var shared = Scripts(Path.Combine(root, "shared"));
        var locations = new E2ELocations(shared, Path.Combine(root, "realk8s"), Path.Combine(root, "realnode"), Path.Combine(root, "results"));

        Assert.Equal($"kube-apiserver binaries not found at {shared}/realk8s/bin; make e2e needs them", locations.ControlPlaneMissing());
        Assert.NotNull(locations.KubeletMissing());
        Assert.Contains("shared folder", new E2ELocations(null, "/tmp/realk8s", "/tmp/realnode", root).ControlPlaneMissing(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_binaries_count_packed_in_the_shared_folder_or_unpacked_by_an_earlier_up_sh()
    {
        var shared = Scripts(Path.Combine(root, "shared"));
        Directory.CreateDirectory(Path.Combine(shared, "realk8s", "bin"));
        foreach (var binary in new[] { "kube-apiserver", "kube-controller-manager", "kubelet" })
            File.WriteAllText(Path.Combine(shared, "realk8s", "bin", binary + ".gz"), "");
        var packed = new E2ELocations(shared, Path.Combine(root, "realk8s"), Path.Combine(root, "realnode"), root);
        Assert.Null(packed.ControlPlaneMissing());
        Assert.Null(packed.KubeletMissing());

        var bare = Scripts(Path.Combine(root, "bare"));
        var unpacked = Directory.CreateDirectory(Path.Combine(root, "state", "bin")).FullName;
        foreach (var binary in new[] { "kube-apiserver", "kube-controller-manager" })
            File.WriteAllText(Path.Combine(unpacked, binary), "");
        var fromState = new E2ELocations(bare, Path.Combine(root, "state"), Path.Combine(root, "realnode"), root);
        Assert.Null(fromState.ControlPlaneMissing());
        Assert.NotNull(fromState.KubeletMissing());
    }

    private static string Scripts(string shared)
    {
        Directory.CreateDirectory(Path.Combine(shared, "realk8s"));
        File.WriteAllText(Path.Combine(shared, "realk8s", "up.sh"), "#!/bin/bash\n");
        return shared;
    }
}
