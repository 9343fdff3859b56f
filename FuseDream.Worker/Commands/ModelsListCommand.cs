using System.CommandLine;
using FuseDream.Models;

namespace FuseDream.Worker.Commands;

/// <summary><c>models list</c>: every catalog model with its size and whether it is in the store, then each model's sources in order. Reads no weights.</summary>
internal static class ModelsListCommand
{
    public static Command Create(StoreContext context)
    {
        var command = new Command("list", "Show the catalog's models, their sizes and which are in the store.");
        command.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            var store = context.Open(parse);
            if (store is null)
                return ModelsCommand.BadInput;

            output.WriteLine($"Store:   {store.Directory}");
            output.WriteLine($"Catalog: {store.Catalog.Origin}");
            output.WriteLine();
            var rows = store.Catalog.Models.Select(m =>
            {
                var path = store.TryLocate(m.Id);
                var receipt = path is null ? null : store.ReadReceipt(m.Id);
                var status = path is null ? "missing"
                    : receipt is null ? "present (not verified yet)"
                    : $"present, verified {receipt.RecordedAt:yyyy-MM-dd}";
                var size = m.SizeBytes is long s ? (m.SizeIsEstimate ? "~" : "") + ModelText.FormatBytes(s) : "?";
                return new[] { m.Id, m.Kind, size, status, m.File };
            }).ToList();
            string[] header = ["ID", "KIND", "SIZE", "STATUS", "FILE"];
            var widths = header.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
            output.WriteLine(Format(header, widths));
            foreach (var row in rows)
                output.WriteLine(Format(row, widths));
            output.WriteLine();
            output.WriteLine("Sources, tried in this order by `models pull`:");
            foreach (var m in store.Catalog.Models)
            {
                output.WriteLine($"{m.Id}:");
                for (var i = 0; i < m.Sources.Count; i++)
                    output.WriteLine($"  {i + 1}. {m.Sources[i].Url}{Describe(m.Sources[i])}");
            }
            return 0;
        });
        return command;
    }

    /// <summary>How a source's file is checked and what it is, in brackets after its URL.</summary>
    private static string Describe(ModelSource source)
    {
        var parts = new List<string>();
        if (source.Layout is not null) parts.Add(source.Layout);
        parts.Add(source.Sha256 is not null ? $"SHA-256 {source.Sha256[..8]}…"
            : source.Md5 is not null ? $"MD5 {source.Md5}"
            : "checked by its tensors");
        if (source.Url.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) parts.Add("plain HTTP: --allow-insecure");
        return $"  [{string.Join("; ", parts)}]";
    }

    private static string Format(string[] cells, int[] widths) =>
        string.Join("  ", cells.Select((c, i) => i == cells.Length - 1 ? c : c.PadRight(widths[i]))).TrimEnd();
}
