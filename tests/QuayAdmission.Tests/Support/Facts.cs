using System.Buffers;
using System.Text;
using QuayAdmission.Admission;

namespace QuayAdmission.Tests.Support;

/// <summary>What admission reads of a review (ReviewFacts), for tests of the decision and the patch without a host.</summary>
public static class Facts
{
    /// <summary>Decoded as the endpoint decodes <paramref name="review"/>, then read once.</summary>
    public static ReviewFacts Of(string review)
    {
        using var document = AdmissionReviewDocument.Parse(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(review)));
        return ReviewFacts.Read(document.Review!.Request!);
    }

    /// <summary>A Pod CREATE of <paramref name="pod"/> in team-a; the Pod must be readable.</summary>
    public static PodFacts OfPod(string pod)
    {
        var facts = Of(Reviews.Create(pod, ns: "team-a"));
        return facts.Pod ?? throw new Xunit.Sdk.XunitException($"the pod cannot be read: {facts.Unreadable}");
    }
}
